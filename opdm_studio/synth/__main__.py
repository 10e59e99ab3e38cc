"""``python -m opdm_studio.synth``: write a synthetic cut, or regenerate the bundled sample."""
import sys

from opdm_studio.synth.cut import main

sys.exit(main())
