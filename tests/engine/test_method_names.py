"""The colouring method is named after what the user chooses (``model`` or ``flow``); files and
scripts written when the model method was called ``opdm`` still read and run."""
from __future__ import annotations

import json

from opdm_studio.cli import main as cli_main
from opdm_studio.engine.project import PROJECT_FILENAME, ColorizeSettings, Project
from opdm_studio.engine.run import Colorizer
from opdm_studio.pipelines import METHODS, method_name


def test_methods_are_the_users_choices_and_the_old_name_maps_to_the_model():
    assert METHODS == ("model", "flow")
    assert method_name("opdm") == "model" and method_name("flow") == "flow"
    assert ColorizeSettings().method == "model"
    assert ColorizeSettings.from_dict({"method": "opdm"}).method == "model"
    assert ColorizeSettings(method="opdm").validate().method == "model"


def test_an_old_project_file_reads_and_its_results_stay_current(cut_noholds, tmp_path, fast_settings):
    out = tmp_path / "out"
    p = Project.create(cut_noholds, out, keys=[0, 9], settings=fast_settings)
    list(Colorizer(p).run(frames=[0, 1, 9]))
    path = out / PROJECT_FILENAME
    doc = json.loads(path.read_text())
    # Write it as the version before the rename did: "opdm" in the settings and every result.
    doc["settings"]["method"] = "opdm"
    results = doc["results"]
    entries = results.values() if isinstance(results, dict) else results
    for entry in entries:
        if entry.get("method") == "model":
            entry["method"] = "opdm"
            entry["recipe"]["method"] = "opdm"
    assert '"opdm"' in json.dumps(doc["results"])
    path.write_text(json.dumps(doc))
    q = Project.load(out)
    assert q.settings.method == "model"
    assert q.results[1].method == "model" and q.results[1].recipe["method"] == "model"
    assert q.is_finished(1) and not q.is_outdated(1)


def test_the_cli_still_takes_the_old_word(cut_noholds, tmp_path, fast_settings, capsys):
    code = cli_main(["colorize", str(cut_noholds / "lineart"), "--key-dir", str(cut_noholds / "color"),
                     "--keys", "0,9", "--out", str(tmp_path / "out"), "--method", "opdm",
                     "--model", fast_settings.model, "--steps", "1", "--working-size", "32",
                     "--device", "cpu", "--frames", "1", "-q"])
    assert code == 0, capsys.readouterr().err
    assert Project.load(tmp_path / "out").settings.method == "model"
    assert cli_main(["colorize", str(cut_noholds), "--out", str(tmp_path / "o2"), "--method", "paper"]) == 2
    assert "invalid choice: 'paper' (choose from 'model', 'flow')" in capsys.readouterr().err
