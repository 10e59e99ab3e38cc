<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="ja" sourcelanguage="en">
<context>
    <name>CheckPage</name>
    <message>
        <source>Data check</source>
        <translation>データの確認</translation>
    </message>
    <message>
        <source>Each preview row: line art | previous key | target | next key.</source>
        <translation>プレビューの各行: 線画 | 前のキー | 対象フレーム | 次のキー</translation>
    </message>
    <message>
        <source>&lt;b&gt;This folder cannot be used.&lt;/b&gt; {reason}</source>
        <translation>&lt;b&gt;このフォルダは使えません。&lt;/b&gt; {reason}</translation>
    </message>
    <message>
        <source>{cuts} usable cut(s), {frames} frames, frame size(s) {sizes}.</source>
        <translation>使えるカット {cuts} 件、{frames} フレーム、フレームサイズ {sizes}。</translation>
    </message>
    <message>
        <source>No problems found.</source>
        <translation>問題は見つかりませんでした。</translation>
    </message>
</context>
<context>
    <name>ExportDialog</name>
    <message>
        <source>Export</source>
        <translation>書き出し</translation>
    </message>
    <message>
        <source>Browse...</source>
        <translation>参照...</translation>
    </message>
    <message>
        <source>Fields: {cut} cut name, {frame} frame number (e.g. {frame:04d}), {name} source file name</source>
        <translation>使える項目: {cut} カット名、{frame} フレーム番号（例: {frame:04d}）、{name} 元のファイル名</translation>
    </message>
    <message>
        <source>Layered PSD (colour + lines)</source>
        <translation>レイヤー付き PSD（色 + 線）</translation>
    </message>
    <message>
        <source>All frames ({n})</source>
        <translation>全フレーム（{n}）</translation>
    </message>
    <message>
        <source>Selection ({n})</source>
        <translation>選択範囲（{n}）</translation>
    </message>
    <message>
        <source>Selection (none)</source>
        <translation>選択範囲（なし）</translation>
    </message>
    <message>
        <source>Frames</source>
        <translation>フレーム</translation>
    </message>
    <message>
        <source>to</source>
        <translation>～</translation>
    </message>
    <message>
        <source>Open the folder when done</source>
        <translation>終わったらフォルダを開く</translation>
    </message>
    <message>
        <source>Folder</source>
        <translation>フォルダ</translation>
    </message>
    <message>
        <source>Naming</source>
        <translation>ファイル名</translation>
    </message>
    <message>
        <source>Layers</source>
        <translation>レイヤー</translation>
    </message>
    <message>
        <source>Range</source>
        <translation>範囲</translation>
    </message>
    <message>
        <source>Export to folder</source>
        <translation>書き出し先フォルダ</translation>
    </message>
    <message>
        <source>{n} coloured frame(s); first: {names}</source>
        <translation>彩色済み {n} フレーム。最初のファイル: {names}</translation>
    </message>
    <message>
        <source>Choose a folder</source>
        <translation>フォルダを選んでください</translation>
    </message>
</context>
<context>
    <name>FineTuneWizard</name>
    <message>
        <source>Fine-tune the colouring model</source>
        <translation>彩色モデルの追加学習</translation>
    </message>
</context>
<context>
    <name>FixTool</name>
    <message>
        <source>a keyframe</source>
        <extracomment>Why carrying a fix stopped (the engine&apos;s reasons), for the status line.</extracomment>
        <translation>キーフレーム</translation>
    </message>
    <message>
        <source>an unsure match</source>
        <translation>対応の不確かな領域</translation>
    </message>
    <message>
        <source>another fix</source>
        <translation>別の修正</translation>
    </message>
    <message>
        <source>the cut&apos;s end</source>
        <translation>カットの端</translation>
    </message>
    <message>
        <source>frame {frame}, carried to {frames}</source>
        <translation>フレーム {frame}、{frames} に引き継ぎ</translation>
    </message>
    <message>
        <source>frame {frame}, not carried</source>
        <translation>フレーム {frame}、引き継ぎなし</translation>
    </message>
    <message>
        <source>{a} and {b}</source>
        <translation>{a}と{b}</translation>
    </message>
    <message>
        <source>(stopped at {where})</source>
        <translation>（{where}で停止）</translation>
    </message>
    <message>
        <source>The cut&apos;s colour model was not read: {error}</source>
        <translation>カットの色指定は読み込まれませんでした: {error}</translation>
    </message>
    <message>
        <source>The fill tool paints in the {views} views (Ctrl+2, Ctrl+3, Ctrl+5).</source>
        <translation>塗りつぶしツールは {views} の表示で使えます（Ctrl+2、Ctrl+3、Ctrl+5）。</translation>
    </message>
    <message>
        <source>Choose a swatch in the palette first (or Alt-click a region to pick one).</source>
        <translation>先にパレットで色を選んでください（領域を Alt+クリックしても選べます）。</translation>
    </message>
    <message>
        <source>Frame {frame} has no colour yet: colour it (Ctrl+Enter) before fixing its regions.</source>
        <translation>フレーム {frame} はまだ彩色されていません。領域を修正する前に彩色してください（Ctrl+Enter）。</translation>
    </message>
    <message>
        <source>Fill a region of frame {frame} with {swatch}</source>
        <translation>フレーム {frame} の領域を {swatch} で塗りつぶし</translation>
    </message>
    <message>
        <source>Filled with {swatch}: {where}</source>
        <translation>{swatch} で塗りつぶしました: {where}</translation>
    </message>
    <message>
        <source>Colour picker: this frame has no colour yet</source>
        <translation>スポイト: このフレームはまだ彩色されていません</translation>
    </message>
    <message>
        <source>confidence {value}</source>
        <translation>信頼度 {value}</translation>
    </message>
    <message>
        <source>Region colour at ({x}, {y}): {hex}, not a swatch of the palette (Add makes it one)</source>
        <translation>({x}, {y}) の領域の色: {hex}、パレットにない色です（「追加」でパレットに加えられます）</translation>
    </message>
    <message>
        <source>Region colour at ({x}, {y}): {swatch} {hex} = RGB{rgb}; now the current swatch</source>
        <translation>({x}, {y}) の領域の色: {swatch} {hex} = RGB{rgb}。現在の色にしました</translation>
    </message>
    <message>
        <source>No region is flagged for review: every coloured frame is settled</source>
        <translation>要確認の領域はありません。彩色済みのフレームはすべて確定しています</translation>
    </message>
    <message>
        <source>Flagged place on frame {frame} ({area} px) inside a region that is not flagged as a whole: paint it with the brush (P) or enclose and fill it (L), or N for the next one</source>
        <translation>フレーム {frame} の要確認箇所（{area} px、領域全体は要確認ではない）: ブラシ（P）か囲って塗る（L）で塗るか、N で次へ</translation>
    </message>
    <message>
        <source>Flagged region on frame {frame} ({area} px): fill it with the right swatch (B, click), or N for the next one</source>
        <translation>フレーム {frame} の要確認領域（{area} px）: 正しい色で塗りつぶすか（B、クリック）、N で次へ</translation>
    </message>
</context>
<context>
    <name>FolderPage</name>
    <message>
        <source>Finished cuts</source>
        <translation>仕上げ済みのカット</translation>
    </message>
    <message>
        <source>not started</source>
        <extracomment>A resumable run&apos;s state (training.finetune), in the resume list.</extracomment>
        <translation>未開始</translation>
    </message>
    <message>
        <source>interrupted</source>
        <translation>中断</translation>
    </message>
    <message>
        <source>paused</source>
        <translation>一時停止中</translation>
    </message>
    <message>
        <source>cancelled</source>
        <translation>中止</translation>
    </message>
    <message>
        <source>stopped by an error</source>
        <translation>エラーで停止</translation>
    </message>
    <message>
        <source>trained, waiting for your choice</source>
        <translation>学習済み・採用待ち</translation>
    </message>
    <message>
        <source>Choose the folder of your finished cuts.</source>
        <translation>仕上がったカットのフォルダーを選んでください。</translation>
    </message>
    <message>
        <source>One subfolder per finished cut: its coloured frames, and optionally its line art in lineart/. Training only reads them: it never changes these files.</source>
        <translation>仕上がったカットごとにサブフォルダーを 1 つ: 彩色済みのフレームと、あれば lineart/ に線画。学習は読むだけで、これらのファイルを変更することはありません。</translation>
    </message>
    <message>
        <source>Browse...</source>
        <translation>参照...</translation>
    </message>
    <message>
        <source>Or resume an unfinished fine-tuning:</source>
        <translation>または、途中の追加学習を再開:</translation>
    </message>
    <message>
        <source>{run}  ({status}, data {data})</source>
        <translation>{run}  （{status}、データ {data}）</translation>
    </message>
    <message>
        <source>Folder of finished cuts</source>
        <translation>仕上げ済みカットのフォルダ</translation>
    </message>
</context>
<context>
    <name>FrameListModel</name>
    <message>
        <source>keyframe</source>
        <translation>キーフレーム</translation>
    </message>
    <message>
        <source>coloured</source>
        <translation>彩色済み</translation>
    </message>
    <message>
        <source>out of date: other keys or settings, Colorize redoes it</source>
        <translation>要再彩色: キーか設定が変わりました。彩色でやり直します</translation>
    </message>
    <message>
        <source>flagged for review</source>
        <translation>要確認</translation>
    </message>
    <message>
        <source>{n} fix(es) made here</source>
        <translation>ここでの修正 {n} 件</translation>
    </message>
    <message>
        <source>fixes carried from frame(s) {frames}</source>
        <translation>フレーム {frames} から引き継いだ修正</translation>
    </message>
    <message>
        <source>line only</source>
        <translation>線画のみ</translation>
    </message>
</context>
<context>
    <name>HandTool</name>
    <message>
        <source>&amp;Brush</source>
        <translation>ブラシ(&amp;B)</translation>
    </message>
    <message>
        <source>Brush (P): paint with the current swatch where the fill leaks; [ and ] change its size; Alt-click picks a swatch</source>
        <translation>ブラシ（P）: 塗りつぶしがはみ出したところを現在の色で塗ります。[ と ] で太さを変更、Alt+クリックで色を拾います</translation>
    </message>
    <message>
        <source>&amp;Enclose and fill</source>
        <translation>囲って塗る(&amp;E)</translation>
    </message>
    <message>
        <source>Enclose and fill (L): draw round a part to paint inside the outline with the current swatch; regions inside it whole are carried like fills</source>
        <translation>囲って塗る（L）: 塗りたい部分を囲むと、囲みの内側を現在の色で塗ります。囲みにまるごと入った領域は塗りつぶしと同じく前後のフレームに引き継ぎます</translation>
    </message>
    <message>
        <source>Smaller brush</source>
        <translation>ブラシを細く</translation>
    </message>
    <message>
        <source>Larger brush</source>
        <translation>ブラシを太く</translation>
    </message>
    <message>
        <source>Brush size {size} px</source>
        <translation>ブラシの太さ {size} px</translation>
    </message>
    <message>
        <source>The brush and enclose and fill paint in the {views} views (Ctrl+2, Ctrl+3, Ctrl+5).</source>
        <translation>ブラシと囲って塗るは {views} の表示で使えます（Ctrl+2、Ctrl+3、Ctrl+5）。</translation>
    </message>
    <message>
        <source>Choose a swatch in the palette first (or Alt-click a region to pick one).</source>
        <translation>先にパレットで色を選んでください（領域を Alt+クリックしても選べます）。</translation>
    </message>
    <message>
        <source>Frame {frame} is a keyframe: its paint is what the other frames are coloured from. Fix it in your paint program and drop it back.</source>
        <translation>フレーム {frame} はキーフレームです。ほかのフレームはこの色から彩色されます。ペイントソフトで直してから、もう一度ドロップしてください。</translation>
    </message>
    <message>
        <source>Frame {frame} has no colour yet: colour it (Ctrl+Enter) before painting on it.</source>
        <translation>フレーム {frame} はまだ彩色されていません。塗る前に彩色してください（Ctrl+Enter）。</translation>
    </message>
    <message>
        <source>Enclose and fill: draw round the part to paint, holding the mouse button down.</source>
        <translation>囲って塗る: マウスのボタンを押したまま、塗りたい部分を囲んでください。</translation>
    </message>
    <message>
        <source>The stroke paints no region: paint inside the regions, not only on the lines.</source>
        <translation>塗れる領域がありません。線の上だけでなく、領域の内側を塗ってください。</translation>
    </message>
    <message>
        <source>Brush on frame {frame} with {swatch}</source>
        <translation>フレーム {frame} を {swatch} のブラシで塗る</translation>
    </message>
    <message>
        <source>Enclose and fill on frame {frame} with {swatch}</source>
        <translation>フレーム {frame} を {swatch} で囲って塗る</translation>
    </message>
    <message>
        <source>Painted with {swatch}: {where}</source>
        <translation>{swatch} で塗りました: {where}</translation>
    </message>
</context>
<context>
    <name>KeySlot</name>
    <message>
        <source>no keyframe</source>
        <translation>キーフレームなし</translation>
    </message>
    <message>
        <source>Mark a painted frame with K</source>
        <translation>塗り済みのフレームを K でキーフレームに</translation>
    </message>
    <message>
        <source>no colour</source>
        <translation>色なし</translation>
    </message>
    <message>
        <source>frame {name}</source>
        <translation>フレーム {name}</translation>
    </message>
</context>
<context>
    <name>KeyframeEditor</name>
    <message>
        <source>Unmark keyframe {frame}</source>
        <translation>キーフレーム {frame} を解除</translation>
    </message>
    <message>
        <source>Frame {name} has no colour yet: drop a coloured image on it (or colour it first) to make it a keyframe.</source>
        <translation>フレーム {name} にはまだ色がありません。キーフレームにするには、彩色した画像をドロップするか、先に彩色してください。</translation>
    </message>
    <message>
        <source>Mark keyframe {frame}</source>
        <translation>キーフレーム {frame} を指定</translation>
    </message>
    <message>
        <source>Colour keyframe {frame} from {file}</source>
        <translation>キーフレーム {frame} に {file} の色を設定</translation>
    </message>
    <message>
        <source>Only a coloured frame that is not yet a keyframe can be promoted.</source>
        <translation>キーフレームに昇格できるのは、キーフレームでない彩色済みのフレームだけです。</translation>
    </message>
    <message>
        <source>Promote frame {frame}</source>
        <translation>フレーム {frame} をキーフレームに昇格</translation>
    </message>
</context>
<context>
    <name>KeyframePanel</name>
    <message>
        <source>No cut open</source>
        <translation>カットが開かれていません</translation>
    </message>
    <message>
        <source>Previous keyframe</source>
        <translation>前のキーフレーム</translation>
    </message>
    <message>
        <source>Next keyframe</source>
        <translation>次のキーフレーム</translation>
    </message>
    <message>
        <source>Mark keyframe (K)</source>
        <translation>キーフレームに指定（K）</translation>
    </message>
    <message>
        <source>Promote &amp;&amp; re-colour neighbours</source>
        <translation>昇格して前後を再彩色</translation>
    </message>
    <message>
        <source>Make this coloured (corrected) frame a keyframe and colour the frames between its neighbouring keyframes again</source>
        <translation>この彩色済み（修正済み）のフレームをキーフレームにして、前後のキーフレームとの間を彩色し直します</translation>
    </message>
    <message>
        <source>Drop a coloured image on a slot or on a timeline frame to give that keyframe its colour.</source>
        <translation>彩色した画像をスロットかタイムラインのフレームにドロップすると、そのキーフレームの色になります。</translation>
    </message>
    <message>
        <source>keyframe</source>
        <translation>キーフレーム</translation>
    </message>
    <message>
        <source>line only</source>
        <translation>線画のみ</translation>
    </message>
    <message>
        <source>being coloured</source>
        <translation>彩色中</translation>
    </message>
    <message>
        <source>coloured, out of date (Colorize redoes it)</source>
        <translation>彩色済み・要再彩色（彩色でやり直します）</translation>
    </message>
    <message>
        <source>coloured</source>
        <translation>彩色済み</translation>
    </message>
    <message>
        <source>&lt;b&gt;Frame {label}&lt;/b&gt; ({name}) — {state}</source>
        <translation>&lt;b&gt;フレーム {label}&lt;/b&gt;（{name}）— {state}</translation>
    </message>
    <message>
        <source>Unmark keyframe (K)</source>
        <translation>キーフレームを解除（K）</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>Keyframes</source>
        <translation>キーフレーム</translation>
    </message>
    <message>
        <source>Palette</source>
        <translation>パレット</translation>
    </message>
    <message>
        <source>Welcome! This is the bundled sample cut: press Ctrl+Enter to colour the frames up to the next keyframe, or select frames on the timeline first.</source>
        <translation>ようこそ。付属のサンプルカットです。Ctrl+Enter で次のキーフレームまでを彩色します。先にタイムラインでフレームを選ぶこともできます。</translation>
    </message>
    <message>
        <source>Open a cut folder</source>
        <translation>カットのフォルダを開く</translation>
    </message>
    <message>
        <source>Colouring is running: cancel it (Esc) before opening another cut.</source>
        <translation>彩色中です。別のカットを開く前に中止してください（Esc）。</translation>
    </message>
    <message>
        <source>Opened {summary}</source>
        <translation>開きました: {summary}</translation>
    </message>
    <message>
        <source>Frame {label} ({name}) · {mode}</source>
        <translation>フレーム {label}（{name}）· {mode}</translation>
    </message>
    <message>
        <source>No keyframes yet: mark at least one painted frame as a keyframe (select it and press K), or drop a coloured image on a frame.</source>
        <translation>キーフレームがまだありません。塗り済みのフレームを 1 枚以上キーフレームに指定するか（選んで K）、彩色した画像をフレームにドロップしてください。</translation>
    </message>
    <message>
        <source>Colouring {what} with OPDM... (Esc cancels)</source>
        <translation>{what}を OPDM で彩色中...（Esc で中止）</translation>
    </message>
    <message>
        <source>Colouring {what} with the flow preview... (Esc cancels)</source>
        <translation>{what}をフロープレビューで彩色中...（Esc で中止）</translation>
    </message>
    <message>
        <source>Cancelling after the current step...</source>
        <translation>現在のステップが終わりしだい中止します...</translation>
    </message>
    <message>
        <source>Saved {path}</source>
        <translation>保存しました: {path}</translation>
    </message>
    <message>
        <source>Unsaved changes</source>
        <translation>未保存の変更</translation>
    </message>
    <message>
        <source>Export not started: nothing was overwritten.</source>
        <translation>書き出しは開始されませんでした。上書きされたファイルはありません。</translation>
    </message>
    <message>
        <source>Exporting {n} frame(s) to {folder}...</source>
        <translation>{n} フレームを {folder} に書き出し中...</translation>
    </message>
    <message>
        <source>The new language applies when OPDM Studio starts again.</source>
        <translation>新しい言語は OPDM Studio の次回起動時に反映されます。</translation>
    </message>
    <message>
        <source>The fine-tune wizard is not available in this installation ({error}). Use `opdm-studio train` instead.</source>
        <translation>このインストールでは追加学習ウィザードを使えません（{error}）。代わりに `opdm-studio train` を使ってください。</translation>
    </message>
    <message>
        <source>About OPDM Studio</source>
        <translation>OPDM Studio について</translation>
    </message>
    <message>
        <source>&lt;b&gt;OPDM Studio {version}&lt;/b&gt;&lt;br&gt;Colour 2D animation from painted keyframes with the Offset Prior-based Diffusion Model.&lt;br&gt;Everything runs on this computer.&lt;br&gt;&lt;br&gt;{network}&lt;br&gt;Log: {log}</source>
        <translation>&lt;b&gt;OPDM Studio {version}&lt;/b&gt;&lt;br&gt;塗り済みのキーフレームから、Offset Prior-based Diffusion Model で 2D アニメーションを彩色する仕上げ用ツールです。&lt;br&gt;処理はすべてこのコンピューター上で行われます。&lt;br&gt;&lt;br&gt;{network}&lt;br&gt;ログ: {log}</translation>
    </message>
</context>
<context>
    <name>PalettePanel</name>
    <message>
        <source>Delete anyway (its regions show red)</source>
        <translation>そのまま削除（その領域は赤で表示）</translation>
    </message>
    <message>
        <source>No swatch</source>
        <translation>色なし</translation>
    </message>
    <message>
        <source>Key colours closer than this are one swatch (the colours compressed or scanned keys show for one paint); 0 keeps every key colour apart. About 2 is just seen side by side.</source>
        <translation>これより近いキーの色は一つの色にまとめます（圧縮やスキャンしたキーでは、一つの塗りが少しずつ違う色で出ます）。0 ではキーの色をすべて別の色として残します。2 前後が、並べて見て分かる差です。</translation>
    </message>
    <message>
        <source>Carry fixes to the neighbouring frames</source>
        <translation>修正を前後のフレームに引き継ぐ</translation>
    </message>
    <message>
        <source>A fill also paints the same region in the frames before and after, up to the keyframes (it stops where the region is not found)</source>
        <translation>塗りつぶしを前後のフレームの同じ領域にも、キーフレームまで適用します（領域が見つからないところで止まります）</translation>
    </message>
    <message>
        <source>Add</source>
        <translation>追加</translation>
    </message>
    <message>
        <source>Colour</source>
        <translation>色変更</translation>
    </message>
    <message>
        <source>Rename</source>
        <translation>名前変更</translation>
    </message>
    <message>
        <source>Delete</source>
        <translation>削除</translation>
    </message>
    <message>
        <source>Import</source>
        <translation>読み込み</translation>
    </message>
    <message>
        <source>Export</source>
        <translation>書き出し</translation>
    </message>
    <message>
        <source>Add a swatch</source>
        <translation>色を追加</translation>
    </message>
    <message>
        <source>Change the colour: every region painted with it changes, in every frame</source>
        <translation>色を変更: この色で塗られた領域が、全フレームで変わります</translation>
    </message>
    <message>
        <source>Rename the swatch</source>
        <translation>色の名前を変更</translation>
    </message>
    <message>
        <source>Delete the swatch (refused while it is used, unless another one replaces it)</source>
        <translation>色を削除（使われている間は、別の色で置き換えない限り削除できません）</translation>
    </message>
    <message>
        <source>Read a colour model: a GIMP .gpl, a JSON palette or a CSV (names, characters, normal / shadow / highlight)</source>
        <translation>色指定を読み込む: GIMP の .gpl、JSON パレット、CSV（色名、キャラクター、ノーマル／影／ハイライト）</translation>
    </message>
    <message>
        <source>Write the colour model as .gpl, .json or .csv (names, groups and tones kept)</source>
        <translation>色指定を .gpl、.json、.csv で書き出す（色名、グループ、ノーマル／影／ハイライトを保持）</translation>
    </message>
    <message>
        <source>Merge near-identical key colours:</source>
        <translation>ほぼ同じキーの色をまとめる:</translation>
    </message>
    <message>
        <source>{keys} key colours in {swatches} swatches</source>
        <translation>キーの {keys} 色を {swatches} 色にまとめています</translation>
    </message>
    <message>
        <source>Colour model: {file}</source>
        <translation>色指定: {file}</translation>
    </message>
    <message>
        <source>Import a colour model</source>
        <translation>色指定の読み込み</translation>
    </message>
    <message>
        <source>Colour models (*.gpl *.json *.csv)</source>
        <translation>色指定 (*.gpl *.json *.csv)</translation>
    </message>
    <message>
        <source>Import colour model</source>
        <translation>色指定の読み込み</translation>
    </message>
    <message>
        <source>Export the colour model</source>
        <translation>色指定の書き出し</translation>
    </message>
    <message>
        <source>GIMP palette (*.gpl);;JSON palette (*.json);;CSV colour model (*.csv)</source>
        <translation>GIMP パレット (*.gpl);;JSON パレット (*.json);;CSV 色指定 (*.csv)</translation>
    </message>
    <message>
        <source>Merge near-identical key colours (ΔE ≤ {value})</source>
        <translation>ほぼ同じキーの色をまとめる（ΔE ≤ {value}）</translation>
    </message>
    <message>
        <source>Fill tool (B): click a region to give it the current swatch; Alt-click picks a swatch from the frame. N jumps to the next flagged region.</source>
        <translation>塗りつぶしツール（B）: 領域をクリックすると現在の色で塗ります。Alt+クリックでフレームから色を拾います。N で次の要確認領域へ。</translation>
    </message>
    <message>
        <source>(deleted)</source>
        <translation>（削除済み）</translation>
    </message>
    <message>
        <source>painted in the keyframes</source>
        <translation>キーフレームの色指定</translation>
    </message>
    <message>
        <source>added</source>
        <translation>追加した色</translation>
    </message>
    <message>
        <source>{name}: {hex} ({where}; id {id})</source>
        <translation>{name}: {hex}（{where}、ID {id}）</translation>
    </message>
    <message>
        <source>; the regions painted {hex} show this colour</source>
        <translation>。{hex} で塗られた領域をこの色で表示</translation>
    </message>
    <message>
        <source>; deleted: its regions show red until they are painted again</source>
        <translation>。削除済み: 塗り直すまでその領域は赤で表示</translation>
    </message>
    <message>
        <source>No swatch: colour a keyframe, or add one</source>
        <translation>色がありません。キーフレームを塗るか、色を追加してください</translation>
    </message>
    <message>
        <source>Current swatch: &lt;b&gt;{name}&lt;/b&gt; {hex}</source>
        <translation>現在の色: &lt;b&gt;{name}&lt;/b&gt; {hex}</translation>
    </message>
    <message>
        <source>Add swatch {name}</source>
        <translation>色 {name} を追加</translation>
    </message>
    <message>
        <source>Recolour {name} to {hex}</source>
        <translation>{name} の色を {hex} に変更</translation>
    </message>
    <message>
        <source>Rename {name} to {new}</source>
        <translation>{name} の名前を {new} に変更</translation>
    </message>
    <message>
        <source>Delete swatch {name}, replaced by {other}</source>
        <translation>色 {name} を削除して {other} に置き換え</translation>
    </message>
    <message>
        <source>Delete swatch {name}</source>
        <translation>色 {name} を削除</translation>
    </message>
    <message>
        <source>New swatch</source>
        <translation>新しい色</translation>
    </message>
    <message>
        <source>Name:</source>
        <translation>名前:</translation>
    </message>
    <message>
        <source>Colour of {name}</source>
        <translation>{name} の色</translation>
    </message>
    <message>
        <source>Rename swatch</source>
        <translation>色の名前を変更</translation>
    </message>
    <message>
        <source>Replace with {name} {hex}</source>
        <translation>{name} {hex} に置き換える</translation>
    </message>
    <message>
        <source>Delete swatch</source>
        <translation>色を削除</translation>
    </message>
    <message>
        <source>{name} is used by the keyframes&apos; paint or by fixes. Its regions:</source>
        <translation>{name} はキーフレームの塗りか修正で使われています。その領域を:</translation>
    </message>
</context>
<context>
    <name>Playback</name>
    <message>
        <source>&amp;Play</source>
        <translation>再生(&amp;P)</translation>
    </message>
    <message>
        <source>Play the cut, looping over the selected frames (Space plays and stops)</source>
        <translation>カットを再生します。選んだフレームの範囲をくり返します（Space で再生・停止）</translation>
    </message>
    <message>
        <source>&amp;24 frames a second</source>
        <translation>毎秒24コマ(&amp;2)</translation>
    </message>
    <message>
        <source>1&amp;2 frames a second</source>
        <translation>毎秒12コマ・2コマ打ち(&amp;1)</translation>
    </message>
    <message>
        <source>&amp;Loop</source>
        <translation>くり返し再生(&amp;L)</translation>
    </message>
    <message>
        <source>Start again at the first frame after the last</source>
        <translation>最後のフレームのあと最初のフレームに戻って続けます</translation>
    </message>
    <message>
        <source>&amp;Onion skin</source>
        <translation>オニオンスキン(&amp;O)</translation>
    </message>
    <message>
        <source>Onion skin (O): the previous drawing ghosted in red, the next one in green</source>
        <translation>オニオンスキン (O)：前の絵を赤、次の絵を緑で透かして重ねます</translation>
    </message>
    <message>
        <source>Ghost the &amp;previous drawing</source>
        <translation>前の絵を透かす(&amp;P)</translation>
    </message>
    <message>
        <source>Ghost the &amp;next drawing</source>
        <translation>次の絵を透かす(&amp;N)</translation>
    </message>
    <message>
        <source>Ghost their &amp;lines</source>
        <translation>線を透かす(&amp;L)</translation>
    </message>
    <message>
        <source>Ghost their &amp;colours</source>
        <translation>色を透かす(&amp;C)</translation>
    </message>
    <message>
        <source>&amp;Playback</source>
        <translation>再生(&amp;P)</translation>
    </message>
    <message>
        <source>played at {fps} frames a second</source>
        <translation>再生は毎秒{fps}コマでした</translation>
    </message>
    <message>
        <source>Playing frames {first}-{last} at {fps} frames a second (Space stops)</source>
        <translation>フレーム {first}-{last} を毎秒{fps}コマで再生中（Space で停止）</translation>
    </message>
    <message>
        <source>preparing the pictures: {ready} of {n}</source>
        <translation>画像を準備中：{ready} / {n}</translation>
    </message>
</context>
<context>
    <name>Relink</name>
    <message>
        <source>The cut of this project is no longer at {folder}: choose its new folder</source>
        <translation>このプロジェクトのカットは {folder} にありません。カットの新しいフォルダを選んでください</translation>
    </message>
</context>
<context>
    <name>ResultPage</name>
    <message>
        <source>Before and after</source>
        <translation>学習前と学習後</translation>
    </message>
    <message>
        <source>Both models colour frames held back from your cuts.</source>
        <translation>両方のモデルで、カットから取り分けた検証用フレームを彩色しました。</translation>
    </message>
    <message>
        <source>The frames were never trained on. PSNR: how close the colours come to your finished frames (higher is closer; +1 dB is about 11 % less colour error). SSIM: how well shapes, edges and shading match (1 = identical). Rows of the sheet: drawing | start model | fine-tuned | your finished frame.</source>
        <translation>検証用フレームは学習に使っていません。PSNR: 色が仕上がりのフレームにどれだけ近いか（高いほど近く、+1 dB で色のずれが約 11 % 減ります）。SSIM: 形・輪郭・影の付き方がどれだけ合っているか（1 = 同じ）。シートの各行: 線画 | 元のモデル | 追加学習後 | 仕上がりのフレーム。</translation>
    </message>
    <message>
        <source>Start model</source>
        <translation>元のモデル</translation>
    </message>
    <message>
        <source>Fine-tuned</source>
        <translation>追加学習後</translation>
    </message>
    <message>
        <source>Colours: PSNR (dB, 224 px)</source>
        <translation>色の近さ: PSNR（dB、224 px）</translation>
    </message>
    <message>
        <source>Shapes and shading: SSIM (224 px)</source>
        <translation>形と影: SSIM（224 px）</translation>
    </message>
    <message>
        <source>Install the fine-tuned model</source>
        <translation>追加学習したモデルをインストール</translation>
    </message>
    <message>
        <source>Keep my current model</source>
        <translation>今のモデルを使い続ける</translation>
    </message>
    <message>
        <source>Nothing was held back from these cuts (too few frames), so the models could not be compared.</source>
        <translation>これらのカットからは検証用のフレームを取り置けなかったため（フレームが少なすぎます）、モデルを比較できませんでした。</translation>
    </message>
    <message>
        <source>Start model ({name})</source>
        <translation>元のモデル（{name}）</translation>
    </message>
    <message>
        <source>&lt;b&gt;The model could not be installed.&lt;/b&gt; {reason}</source>
        <translation>&lt;b&gt;モデルをインストールできませんでした。&lt;/b&gt; {reason}</translation>
    </message>
    <message>
        <source>Installed &lt;b&gt;{name}&lt;/b&gt; as {path} and selected it for colouring.</source>
        <translation>&lt;b&gt;{name}&lt;/b&gt; を {path} にインストールし、彩色に使うモデルに選びました。</translation>
    </message>
    <message>
        <source>Nothing was installed; the app keeps colouring with your current model.</source>
        <translation>何もインストールしていません。引き続き今のモデルで彩色します。</translation>
    </message>
</context>
<context>
    <name>SettingsDialog</name>
    <message>
        <source>Settings</source>
        <translation>設定</translation>
    </message>
    <message>
        <source>Default model</source>
        <translation>標準モデル</translation>
    </message>
    <message>
        <source>Installed: {name}</source>
        <translation>インストール済み: {name}</translation>
    </message>
    <message>
        <source>Choose file...</source>
        <translation>ファイルを選択...</translation>
    </message>
    <message>
        <source>Model</source>
        <translation>モデル</translation>
    </message>
    <message>
        <source>OPDM (diffusion, best quality)</source>
        <translation>OPDM（拡散モデル、最高品質）</translation>
    </message>
    <message>
        <source>Flow preview (fast, no model)</source>
        <translation>フロープレビュー（高速、モデル不要）</translation>
    </message>
    <message>
        <source>Method</source>
        <translation>彩色方法</translation>
    </message>
    <message>
        <source>Auto (the fastest here)</source>
        <translation>自動（このマシンで最速のもの）</translation>
    </message>
    <message>
        <source>Device</source>
        <translation>デバイス</translation>
    </message>
    <message>
        <source>DDIM sampling steps: fewer is faster, more is finer</source>
        <translation>DDIM のサンプリングステップ数: 少ないほど速く、多いほど精細</translation>
    </message>
    <message>
        <source>Steps</source>
        <translation>ステップ数</translation>
    </message>
    <message>
        <source>Size the network works at; results are mapped back to full size</source>
        <translation>ネットワークが処理するサイズ。結果は元の解像度に戻します</translation>
    </message>
    <message>
        <source>Working size</source>
        <translation>処理サイズ</translation>
    </message>
    <message>
        <source>Auto (snap sure regions, flag the rest)</source>
        <translation>自動（確かな領域は吸着、それ以外は要確認）</translation>
    </message>
    <message>
        <source>Off (keep the model&apos;s colours)</source>
        <translation>オフ（モデルの色のまま）</translation>
    </message>
    <message>
        <source>All (snap every region)</source>
        <translation>すべて（全領域を吸着）</translation>
    </message>
    <message>
        <source>Palette snapping</source>
        <translation>パレット吸着</translation>
    </message>
    <message>
        <source>Close gaps in the line art up to this size when finding regions</source>
        <translation>領域を探すとき、線画のこの大きさまでの隙間を閉じます</translation>
    </message>
    <message>
        <source>Gap closing</source>
        <translation>隙間閉じ</translation>
    </message>
    <message>
        <source>Thumbnail size</source>
        <translation>サムネイルの大きさ</translation>
    </message>
    <message>
        <source>System language</source>
        <translation>システムの言語</translation>
    </message>
    <message>
        <source>The language of menus, dialogs and messages; applies when OPDM Studio starts again</source>
        <translation>メニュー、ダイアログ、メッセージの言語。OPDM Studio の次回起動時に反映されます</translation>
    </message>
    <message>
        <source>Language</source>
        <translation>言語</translation>
    </message>
    <message>
        <source>A new language applies when OPDM Studio starts again.</source>
        <translation>言語の変更は OPDM Studio の次回起動時に反映されます。</translation>
    </message>
    <message>
        <source>Models folder: {models}
Log file: {log}</source>
        <translation>モデルのフォルダ: {models}
ログファイル: {log}</translation>
    </message>
    <message>
        <source>Choose a model checkpoint</source>
        <translation>モデルのチェックポイントを選択</translation>
    </message>
    <message>
        <source>OPDM checkpoints (*.safetensors)</source>
        <translation>OPDM チェックポイント (*.safetensors)</translation>
    </message>
    <message>
        <source>The chosen model runs {n} step(s) whatever this setting says: its own settings decide.</source>
        <translation>選んだモデルは、この設定にかかわらず {n} ステップで彩色します（モデル自身の設定で決まります）。</translation>
    </message>
</context>
<context>
    <name>SettingsPage</name>
    <message>
        <source>Settings</source>
        <translation>設定</translation>
    </message>
    <message>
        <source>Fine-tuning starts from a model you have; a new model from scratch takes far longer.</source>
        <translation>追加学習は手元のモデルから始めます。新しいモデルを一から学習すると、はるかに時間がかかります。</translation>
    </message>
    <message>
        <source> min</source>
        <translation> 分</translation>
    </message>
    <message>
        <source>Measuring a few training steps on this machine...</source>
        <translation>このマシンで学習ステップを数回計測しています...</translation>
    </message>
    <message>
        <source>Start from</source>
        <translation>元にするモデル</translation>
    </message>
    <message>
        <source>Training time</source>
        <translation>学習時間</translation>
    </message>
    <message>
        <source>Working size</source>
        <translation>処理サイズ</translation>
    </message>
    <message>
        <source>Device</source>
        <translation>デバイス</translation>
    </message>
    <message>
        <source>Model name</source>
        <translation>モデル名</translation>
    </message>
    <message>
        <source>The speed could not be measured: {reason}</source>
        <translation>速度を計測できませんでした: {reason}</translation>
    </message>
    <message>
        <source>Use letters, digits, spaces, - _ . (up to 64 characters).</source>
        <translation>半角英数字、スペース、- _ . を使ってください（64 文字まで）。</translation>
    </message>
    <message>
        <source>A model with this name is already installed.</source>
        <translation>この名前のモデルはすでにインストールされています。</translation>
    </message>
    <message>
        <source>A fine-tuning run with this name exists; resume it from the first page.</source>
        <translation>この名前の追加学習がすでにあります。最初のページから再開してください。</translation>
    </message>
</context>
<context>
    <name>StatusBar</name>
    <message>
        <source>Flow preview · no OPDM model installed (see Tools &gt; Settings)</source>
        <translation>フロープレビュー · OPDM モデルがインストールされていません（ツール &gt; 設定）</translation>
    </message>
    <message>
        <source>Flow preview</source>
        <translation>フロープレビュー</translation>
    </message>
    <message>
        <source>starting...</source>
        <translation>開始中...</translation>
    </message>
</context>
<context>
    <name>SwatchTree</name>
    <message>
        <source>normal</source>
        <extracomment>The tones of a paint set as the interface says them.</extracomment>
        <translation>ノーマル</translation>
    </message>
    <message>
        <source>shadow</source>
        <translation>影</translation>
    </message>
    <message>
        <source>highlight</source>
        <translation>ハイライト</translation>
    </message>
    <message>
        <source>Colour {n}</source>
        <translation>色 {n}</translation>
    </message>
    <message>
        <source>; also stands for {n} near-identical key colour(s): {list}</source>
        <translation>。ほぼ同じキーの色 {n} 色もこの色として扱います: {list}</translation>
    </message>
</context>
<context>
    <name>TrainPage</name>
    <message>
        <source>stage 1 (offset estimators)</source>
        <extracomment>What each phase is, for the status line.</extracomment>
        <translation>第 1 段階（オフセット推定）</translation>
    </message>
    <message>
        <source>training</source>
        <translation>学習</translation>
    </message>
    <message>
        <source>Training</source>
        <translation>学習</translation>
    </message>
    <message>
        <source>Preparing...</source>
        <translation>準備中...</translation>
    </message>
    <message>
        <source>The held-back frames are checked every few minutes.</source>
        <translation>検証用フレームで数分ごとに精度を確かめます。</translation>
    </message>
    <message>
        <source>%p% of the time budget</source>
        <translation>学習時間の %p%</translation>
    </message>
    <message>
        <source>The curve is the training error: how far the model&apos;s colours still are from the frames it learns from (lower is better). It falls, then levels out. The held-back frames, never trained on, tell whether it learnt your cuts&apos; colouring or only those frames: PSNR there is how close its colours come to your finished frames (higher is closer; +1 dB is about 11 % less colour error), SSIM how well shapes and shading match (1 = identical).</source>
        <translation>曲線は学習の誤差です: 学習に使うフレームとモデルの色がまだどれだけずれているか（低いほど良い）。下がってから横ばいになります。学習に使わない検証用フレームで、カットの彩色を覚えたのか、学習したフレームだけを覚えたのかが分かります: PSNR は色が仕上がりのフレームにどれだけ近いか（高いほど近く、+1 dB で色のずれが約 11 % 減ります）、SSIM は形と影の付き方がどれだけ合っているか（1 = 同じ）です。</translation>
    </message>
    <message>
        <source>Pause</source>
        <translation>一時停止</translation>
    </message>
    <message>
        <source>Resume</source>
        <translation>再開</translation>
    </message>
    <message>
        <source>Cancel training</source>
        <translation>学習を中止</translation>
    </message>
    <message>
        <source>Training... (the first steps are slow while the model warms up)</source>
        <translation>学習中...（最初のステップは準備のため時間がかかります）</translation>
    </message>
    <message>
        <source>Pausing after this step...</source>
        <translation>このステップの後で一時停止します...</translation>
    </message>
    <message>
        <source>Cancelling after this step...</source>
        <translation>このステップの後で中止します...</translation>
    </message>
    <message>
        <source>Comparing the start model and the fine-tuned model on the held-back frames...</source>
        <translation>検証用フレームで元のモデルと追加学習後のモデルを比較しています...</translation>
    </message>
    <message>
        <source>Phase {index} of {count}: {phase}...</source>
        <translation>段階 {index}/{count}: {phase}...</translation>
    </message>
    <message>
        <source>{phase}: step {step} (about {expected} expected), {spent} of {budget}, training error {loss}</source>
        <translation>{phase}: ステップ {step}（約 {expected} の見込み）、{budget} のうち {spent}、学習の誤差 {loss}</translation>
    </message>
    <message>
        <source>{phase}: step {step}, {spent} of {budget}, training error {loss}</source>
        <translation>{phase}: ステップ {step}、{budget} のうち {spent}、学習の誤差 {loss}</translation>
    </message>
    <message>
        <source>Held-back frames at step {step}: PSNR {psnr} dB</source>
        <translation>ステップ {step} の検証用フレーム: PSNR {psnr} dB</translation>
    </message>
    <message>
        <source>(the flow propagation alone: {psnr} dB)</source>
        <translation>（フロー伝播のみ: {psnr} dB）</translation>
    </message>
    <message>
        <source>Its colours are {pct} % closer to your finished frames than the flow preview&apos;s.</source>
        <translation>色はフロープレビューより {pct} % 仕上がりのフレームに近くなっています。</translation>
    </message>
    <message>
        <source>Its colours are still {pct} % further from your finished frames than the flow preview&apos;s.</source>
        <translation>色はまだフロープレビューより {pct} % 仕上がりのフレームから離れています。</translation>
    </message>
    <message>
        <source>Training finished. Next shows the start model and the fine-tuned model side by side.</source>
        <translation>学習が終わりました。「次へ」で元のモデルと追加学習後のモデルを並べて表示します。</translation>
    </message>
    <message>
        <source>Paused. Resume now, or close the wizard and resume it later from its first page.</source>
        <translation>一時停止しました。今すぐ再開するか、ウィザードを閉じて後で最初のページから再開できます。</translation>
    </message>
    <message>
        <source>Cancelled. The run is kept and can be resumed from the first page.</source>
        <translation>中止しました。学習の状態は残してあり、最初のページから再開できます。</translation>
    </message>
    <message>
        <source>Training stopped: {reason}</source>
        <translation>学習が止まりました: {reason}</translation>
    </message>
</context>
<context>
    <name>Viewer</name>
    <message>
        <source>Drop a cut folder here, or File &gt; Open</source>
        <extracomment>Views where the fill tool paints (the picture is the frame itself, at offset 0).</extracomment>
        <translation>ここにカットのフォルダをドロップするか、ファイル &gt; 開く</translation>
    </message>
</context>
<context>
    <name>WindowActions</name>
    <message>
        <source>&amp;Open cut...</source>
        <translation>カットを開く(&amp;O)...</translation>
    </message>
    <message>
        <source>&amp;Save project</source>
        <translation>プロジェクトを保存(&amp;S)</translation>
    </message>
    <message>
        <source>&amp;Export...</source>
        <translation>書き出し(&amp;E)...</translation>
    </message>
    <message>
        <source>&amp;Quit</source>
        <translation>終了(&amp;Q)</translation>
    </message>
    <message>
        <source>&amp;Undo</source>
        <translation>元に戻す(&amp;U)</translation>
    </message>
    <message>
        <source>&amp;Redo</source>
        <translation>やり直す(&amp;R)</translation>
    </message>
    <message>
        <source>Mark / unmark &amp;keyframe</source>
        <translation>キーフレームの指定 / 解除(&amp;K)</translation>
    </message>
    <message>
        <source>&amp;Promote and re-colour neighbours</source>
        <translation>キーフレームに昇格して前後を再彩色(&amp;P)</translation>
    </message>
    <message>
        <source>&amp;Previous frame</source>
        <translation>前のフレーム(&amp;P)</translation>
    </message>
    <message>
        <source>&amp;Next frame</source>
        <translation>次のフレーム(&amp;N)</translation>
    </message>
    <message>
        <source>&amp;First frame</source>
        <translation>最初のフレーム(&amp;F)</translation>
    </message>
    <message>
        <source>&amp;Last frame</source>
        <translation>最後のフレーム(&amp;L)</translation>
    </message>
    <message>
        <source>&amp;Colorize selection</source>
        <translation>選択範囲を彩色(&amp;C)</translation>
    </message>
    <message>
        <source>Colour the selected frames (all frames if none) — Ctrl+Enter</source>
        <translation>選択したフレームを彩色（選択がなければ全フレーム）— Ctrl+Enter</translation>
    </message>
    <message>
        <source>C&amp;ancel</source>
        <translation>中止(&amp;A)</translation>
    </message>
    <message>
        <source>Stop colouring after the current step; finished frames are kept (Esc)</source>
        <translation>現在のステップの後で彩色を中止します。終わったフレームは残ります（Esc）</translation>
    </message>
    <message>
        <source>&amp;Settings...</source>
        <translation>設定(&amp;S)...</translation>
    </message>
    <message>
        <source>&amp;Fine-tune wizard...</source>
        <translation>追加学習ウィザード(&amp;F)...</translation>
    </message>
    <message>
        <source>&amp;Fit</source>
        <translation>全体表示(&amp;F)</translation>
    </message>
    <message>
        <source>&amp;Actual size</source>
        <translation>原寸表示(&amp;A)</translation>
    </message>
    <message>
        <source>Zoom &amp;in</source>
        <translation>拡大(&amp;I)</translation>
    </message>
    <message>
        <source>Zoom &amp;out</source>
        <translation>縮小(&amp;O)</translation>
    </message>
    <message>
        <source>Colour &amp;picker</source>
        <translation>スポイト(&amp;P)</translation>
    </message>
    <message>
        <source>&amp;Fill tool</source>
        <translation>塗りつぶしツール(&amp;F)</translation>
    </message>
    <message>
        <source>Fill tool (B): click a region to give it the current swatch, carried to the same region in the neighbouring frames; Alt-click picks a swatch</source>
        <translation>塗りつぶしツール（B）: 領域をクリックすると現在の色で塗り、前後のフレームの同じ領域に引き継ぎます。Alt+クリックで色を拾います</translation>
    </message>
    <message>
        <source>&amp;Next flagged region</source>
        <translation>次の要確認領域(&amp;N)</translation>
    </message>
    <message>
        <source>Jump to the next region flagged for review, through the whole cut (N)</source>
        <translation>カット全体から次の要確認領域へ移動します（N）</translation>
    </message>
    <message>
        <source>Open &amp;log folder</source>
        <translation>ログフォルダを開く(&amp;L)</translation>
    </message>
    <message>
        <source>&amp;About OPDM Studio</source>
        <translation>OPDM Studio について(&amp;A)</translation>
    </message>
    <message>
        <source>Open &amp;recent</source>
        <translation>最近使ったカット(&amp;R)</translation>
    </message>
    <message>
        <source>&amp;File</source>
        <translation>ファイル(&amp;F)</translation>
    </message>
    <message>
        <source>&amp;Edit</source>
        <translation>編集(&amp;E)</translation>
    </message>
    <message>
        <source>&amp;View</source>
        <translation>表示(&amp;V)</translation>
    </message>
    <message>
        <source>F&amp;rame</source>
        <translation>フレーム(&amp;R)</translation>
    </message>
    <message>
        <source>&amp;Colour</source>
        <translation>彩色(&amp;C)</translation>
    </message>
    <message>
        <source>&amp;Tools</source>
        <translation>ツール(&amp;T)</translation>
    </message>
    <message>
        <source>&amp;Help</source>
        <translation>ヘルプ(&amp;H)</translation>
    </message>
    <message>
        <source>Main toolbar</source>
        <translation>メインツールバー</translation>
    </message>
</context>
<context>
    <name>errors_ui</name>
    <message>
        <source>OPDM Studio: unexpected error</source>
        <translation>OPDM Studio: 予期しないエラー</translation>
    </message>
    <message>
        <source>{summary}

The app keeps running. Details were written to:
{log}</source>
        <translation>{summary}

アプリはこのまま使えます。詳細は次のファイルに記録しました:
{log}</translation>
    </message>
</context>
<context>
    <name>export_check</name>
    <message>
        <source>Check before export</source>
        <translation>書き出し前チェック</translation>
    </message>
    <message>
        <source>Not coloured, left out: frames {frames} ({n}).</source>
        <translation>未彩色のため書き出さないフレーム: {frames}（{n}）。</translation>
    </message>
    <message>
        <source>Out of date, written as they are: frames {frames} ({n}). Colour them again first to bring them up to date.</source>
        <translation>要再彩色のまま書き出すフレーム: {frames}（{n}）。最新にするには先に再彩色してください。</translation>
    </message>
    <message>
        <source>{frame} ({px} px)</source>
        <translation>{frame}（{px} px）</translation>
    </message>
    <message>
        <source> and {n} more</source>
        <translation> ほか {n} フレーム</translation>
    </message>
    <message>
        <source>Unpainted pixels (paper white or line ink inside paint) on {n} frame(s): {frames}. The Unpainted view shows them hatched.</source>
        <translation>塗り残し（塗りの中に残った紙の白や線の黒）のあるフレーム {n}: {frames}。塗り残し表示で斜線で示します。</translation>
    </message>
    <message>
        <source>The unpainted check stopped: {error}</source>
        <translation>塗り残しチェックが止まりました: {error}</translation>
    </message>
    <message>
        <source>Checking for unpainted pixels: {done} of {total} frame(s)...</source>
        <translation>塗り残しをチェック中: {total} フレーム中 {done}...</translation>
    </message>
    <message>
        <source>Every frame is coloured, up to date and fully painted.</source>
        <translation>すべてのフレームが彩色済み・最新で、塗り残しもありません。</translation>
    </message>
    <message>
        <source>Export anyway?</source>
        <translation>このまま書き出しますか？</translation>
    </message>
    <message>
        <source>Show in the Unpainted view</source>
        <translation>塗り残し表示で見る</translation>
    </message>
    <message>
        <source>Close this dialog and show the first frame with unpainted pixels, zoomed on its largest spot</source>
        <translation>このダイアログを閉じ、塗り残しのある最初のフレームを、いちばん大きな箇所を拡大して表示します</translation>
    </message>
</context>
<context>
    <name>export_dialog</name>
    <message>
        <source>Composite (colour with lines)</source>
        <translation>合成（色 + 線）</translation>
    </message>
    <message>
        <source>Colour only (no lines)</source>
        <translation>色のみ（線なし）</translation>
    </message>
    <message>
        <source>Lines only (transparent)</source>
        <translation>線のみ（透過）</translation>
    </message>
    <message>
        <source>None of the chosen frames is coloured yet: colour them first (Ctrl+Enter).</source>
        <translation>選んだフレームはまだどれも彩色されていません。先に彩色してください（Ctrl+Enter）。</translation>
    </message>
    <message>
        <source>Choose at least one PNG layer to export (the PSD is written beside them).</source>
        <translation>書き出す PNG レイヤーを 1 つ以上選んでください（PSD はその隣に書き出されます）。</translation>
    </message>
    <message>
        <source>Overwrite files?</source>
        <translation>ファイルを上書きしますか？</translation>
    </message>
    <message>
        <source>{n} file(s) already exist in {folder}, e.g. {name}.
Overwrite them?</source>
        <translation>{folder} にはすでに {n} 個のファイルがあります（例: {name}）。
上書きしますか？</translation>
    </message>
</context>
<context>
    <name>finetune_estimate</name>
    <message>
        <source>{n} s</source>
        <extracomment>The presets a new model can start from (stage 1 + stage 2 from random weights).</extracomment>
        <translation>{n} 秒</translation>
    </message>
    <message>
        <source>{n} min</source>
        <translation>{n} 分</translation>
    </message>
    <message>
        <source>{n} h</source>
        <translation>{n} 時間</translation>
    </message>
    <message>
        <source>{n} days</source>
        <translation>{n} 日</translation>
    </message>
    <message>
        <source>learning to follow the drawings&apos; motion</source>
        <extracomment>What each training objective teaches, in words (not its code name).</extracomment>
        <translation>線画の動きを追う学習</translation>
    </message>
    <message>
        <source>learning to colour from the keys</source>
        <translation>キーフレームから彩色する学習</translation>
    </message>
    <message>
        <source>learning to correct the flow preview&apos;s colours</source>
        <translation>フロープレビューの色を補正する学習</translation>
    </message>
    <message>
        <source>{crop} px crops of the {size} px working size</source>
        <translation>処理サイズ {size} px から切り出した {crop} px</translation>
    </message>
    <message>
        <source>Measured on this machine: {seconds} s per training step ({objective}, batch {batch}, {crop}, {device}), so about &lt;b&gt;{steps} steps&lt;/b&gt; in {minutes} min. Another program using the processor makes it fewer.</source>
        <translation>このマシンでの計測: 学習 1 ステップあたり {seconds} 秒（{objective}、バッチ {batch}、{crop}、{device}）。{minutes} 分で約 &lt;b&gt;{steps} ステップ&lt;/b&gt;です。ほかのプログラムがプロセッサーを使うと少なくなります。</translation>
    </message>
    <message>
        <source>New {preset} model from scratch (stage 1 + stage 2)</source>
        <translation>新しい {preset} モデルを一から学習（第 1 + 第 2 段階）</translation>
    </message>
    <message>
        <source>{head}: its speed could not be measured ({reason})</source>
        <translation>{head}: 速度を計測できませんでした（{reason}）</translation>
    </message>
    <message>
        <source>{head}: measuring its speed on this machine...</source>
        <translation>{head}: このマシンで速度を計測中...</translation>
    </message>
    <message>
        <source>{head}: {seconds} s per step here; the paper&apos;s {steps} steps would take about {duration}</source>
        <translation>{head}: このマシンで 1 ステップ {seconds} 秒。論文の {steps} ステップには約 {duration} かかります</translation>
    </message>
</context>
<context>
    <name>finetune_result</name>
    <message>
        <source>the held-back frames</source>
        <translation>検証用フレーム</translation>
    </message>
    <message>
        <source>Figures of the new model on {n} frames held back from {where} (no start model to compare with).</source>
        <translation>{where} から取り置いた {n} フレームでの新しいモデルの成績です（比べる元のモデルはありません）。</translation>
    </message>
    <message>
        <source>The fine-tuned model colours the {n} held-back frames of {where} better: its colours are &lt;b&gt;{pct} % closer&lt;/b&gt; to your finished frames (PSNR {gain} dB).</source>
        <translation>追加学習したモデルのほうが、{where} の検証用 {n} フレームをよく彩色します: 色が仕上がりのフレームに &lt;b&gt;{pct} % 近く&lt;/b&gt;なりました（PSNR {gain} dB）。</translation>
    </message>
    <message>
        <source>The fine-tuned model is &lt;b&gt;worse&lt;/b&gt; on the {n} held-back frames of {where}: its colours are {pct} % further from your finished frames (PSNR {gain} dB). Keeping the current model is advised.</source>
        <translation>追加学習したモデルは {where} の検証用 {n} フレームで&lt;b&gt;悪く&lt;/b&gt;なりました: 色が仕上がりのフレームから {pct} % 離れています（PSNR {gain} dB）。今のモデルを使い続けることをおすすめします。</translation>
    </message>
    <message>
        <source>No clear difference on the {n} held-back frames of {where}: the colours are as close to your finished frames as before (PSNR {gain} dB).</source>
        <translation>{where} の検証用 {n} フレームでは、はっきりした差はありません: 色は以前と同じくらい仕上がりのフレームに近いままです（PSNR {gain} dB）。</translation>
    </message>
    <message>
        <source>Shapes and shading match them better: {pct} % less difference (SSIM).</source>
        <translation>形と影の付き方もよく合っています: 違いが {pct} % 減りました（SSIM）。</translation>
    </message>
    <message>
        <source>Shapes and shading match them less well: {pct} % more difference (SSIM).</source>
        <translation>形と影の付き方は合わなくなりました: 違いが {pct} % 増えました（SSIM）。</translation>
    </message>
    <message>
        <source>Shapes and shading match them as before (SSIM).</source>
        <translation>形と影の付き方は以前と同じです（SSIM）。</translation>
    </message>
</context>
<context>
    <name>finetune_wizard</name>
    <message>
        <source>Auto (the fastest here)</source>
        <extracomment>Devices a run may use: &quot;auto&quot; in words, the others by their names.</extracomment>
        <translation>自動（このマシンで最速のもの）</translation>
    </message>
    <message>
        <source>Default model (shipped with OPDM Studio)</source>
        <translation>標準モデル（OPDM Studio 付属）</translation>
    </message>
    <message>
        <source>Default model ({name})</source>
        <translation>標準モデル（{name}）</translation>
    </message>
    <message>
        <source>Installed: {name}</source>
        <translation>インストール済み: {name}</translation>
    </message>
</context>
<context>
    <name>jobs</name>
    <message>
        <source>all {n} frames</source>
        <translation>全 {n} フレーム</translation>
    </message>
    <message>
        <source>all {n} frames (the cut&apos;s only keyframe was selected)</source>
        <translation>全 {n} フレーム（カットで唯一のキーフレームを選択）</translation>
    </message>
    <message>
        <source>frames {first}-{last}, the intervals of keyframe {key}</source>
        <translation>フレーム {first}-{last}（キーフレーム {key} の前後の区間）</translation>
    </message>
    <message>
        <source>frames {first}-{last}, between the selected keyframes</source>
        <translation>フレーム {first}-{last}（選んだキーフレームの間）</translation>
    </message>
    <message>
        <source>frame {frame}</source>
        <translation>フレーム {frame}</translation>
    </message>
    <message>
        <source>frames {first}-{last}</source>
        <translation>フレーム {first}-{last}</translation>
    </message>
    <message>
        <source>{n} frame(s)</source>
        <translation>{n} フレーム</translation>
    </message>
    <message>
        <source>Colouring stopped by an error after {n} frame(s).</source>
        <translation>エラーのため {n} フレームで彩色が止まりました。</translation>
    </message>
    <message>
        <source>Export stopped by an error after {n} frame(s).</source>
        <translation>エラーのため {n} フレームで書き出しが止まりました。</translation>
    </message>
    <message>
        <source>Colouring cancelled: {n} of {total} frame(s) finished and kept.</source>
        <translation>彩色を中止しました: {total} フレーム中 {n} フレームが完了し、残してあります。</translation>
    </message>
    <message>
        <source>Export cancelled: {n} of {total} frame(s) finished and kept.</source>
        <translation>書き出しを中止しました: {total} フレーム中 {n} フレームが完了し、残してあります。</translation>
    </message>
    <message>
        <source>Coloured {what}: {n} frame(s) in {seconds} s.</source>
        <translation>{what}を彩色しました: {n} フレーム、{seconds} 秒。</translation>
    </message>
    <message>
        <source>Coloured {n} frame(s) in {seconds} s.</source>
        <translation>{n} フレームを {seconds} 秒で彩色しました。</translation>
    </message>
    <message>
        <source>Exported {n} frame(s) in {seconds} s.</source>
        <translation>{n} フレームを {seconds} 秒で書き出しました。</translation>
    </message>
</context>
<context>
    <name>recolour</name>
    <message>
        <source>Colour &amp;again</source>
        <translation>再彩色(&amp;A)</translation>
    </message>
    <message>
        <source>Colour the selected frames again even where they are finished (all frames if none) — Ctrl+Shift+Enter; fixes are kept</source>
        <translation>選択したフレームを、彩色済みでももう一度彩色します（選択がなければ全フレーム）— Ctrl+Shift+Enter。修正は残ります</translation>
    </message>
    <message>
        <source>{n} frame(s)</source>
        <translation>{n} フレーム</translation>
    </message>
    <message>
        <source>Colour again?</source>
        <translation>再彩色しますか？</translation>
    </message>
    <message>
        <source>{what}: every frame is already coloured and up to date.
Colour them again (their fixes are kept)?</source>
        <translation>{what}: すべて彩色済みで最新です。
もう一度彩色しますか（修正は残ります）？</translation>
    </message>
    <message>
        <source>Nothing coloured: {what} already coloured and up to date (Colour again: Ctrl+Shift+Enter).</source>
        <translation>彩色していません: {what} は彩色済みで最新です（再彩色: Ctrl+Shift+Enter）。</translation>
    </message>
</context>
<context>
    <name>session</name>
    <message>
        <source>The last cut, {folder}, is no longer there: open a cut (Ctrl+O) or drop its folder here.</source>
        <translation>前回のカット {folder} が見つかりません: カットを開く（Ctrl+O）か、フォルダーをここにドロップしてください。</translation>
    </message>
    <message>
        <source>Folder not opened</source>
        <translation>フォルダーを開けませんでした</translation>
    </message>
    <message>
        <source>The files were written, but the folder could not be opened in the file manager:
{folder}</source>
        <translation>ファイルは書き出しましたが、フォルダーをファイルマネージャーで開けませんでした:
{folder}</translation>
    </message>
</context>
<context>
    <name>status_bar</name>
    <message>
        <source>ETA {time}</source>
        <translation>残り {time}</translation>
    </message>
    <message>
        <source>ETA {seconds} s</source>
        <translation>残り {seconds} 秒</translation>
    </message>
    <message>
        <source>1 step</source>
        <translation>1 ステップ</translation>
    </message>
    <message>
        <source>{n} steps</source>
        <translation>{n} ステップ</translation>
    </message>
    <message>
        <source>refines the flow preview · {steps}</source>
        <translation>フロープレビューを補正 · {steps}</translation>
    </message>
    <message>
        <source>adapts to each key interval</source>
        <translation>キーフレーム区間ごとに適応</translation>
    </message>
    <message>
        <source>Model: {name} ({sampling})</source>
        <translation>モデル: {name}（{sampling}）</translation>
    </message>
    <message>
        <source>No OPDM model is installed: colouring uses the fast flow preview. To get one: fine-tune one on your finished cuts (Tools &gt; Fine-tune wizard), or choose a checkpoint file in Tools &gt; Settings.</source>
        <translation>OPDM モデルがインストールされていないため、高速なフロープレビューで彩色します。モデルを用意するには、仕上げ済みのカットで追加学習するか（ツール &gt; 追加学習ウィザード）、ツール &gt; 設定 でチェックポイントファイルを選んでください。</translation>
    </message>
    <message>
        <source>The chosen model cannot be used ({reason}); colouring uses the flow preview.</source>
        <translation>選んだモデルは使えません（{reason}）。フロープレビューで彩色します。</translation>
    </message>
    <message>
        <source>{cut}: {frames} frames, {keys} keyframes, {done} coloured. Project: {project}.</source>
        <translation>{cut}: {frames} フレーム、キーフレーム {keys} 枚、彩色済み {done}。プロジェクト: {project}</translation>
    </message>
    <message>
        <source>Warnings: {list}</source>
        <translation>警告: {list}</translation>
    </message>
    <message>
        <source>confidence {value}</source>
        <translation>信頼度 {value}</translation>
    </message>
    <message>
        <source>{n} region(s) to review</source>
        <translation>要確認の領域 {n} か所</translation>
    </message>
    <message>
        <source>out of date: other keys or settings, Colorize redoes it</source>
        <translation>要再彩色: キーか設定が変わりました。彩色でやり直します</translation>
    </message>
</context>
<context>
    <name>unsaved</name>
    <message>
        <source>1 keyframe change</source>
        <translation>キーフレームの変更 1 件</translation>
    </message>
    <message>
        <source>{n} keyframe changes</source>
        <translation>キーフレームの変更 {n} 件</translation>
    </message>
    <message>
        <source>1 fill</source>
        <translation>塗りつぶし 1 件</translation>
    </message>
    <message>
        <source>{n} fills</source>
        <translation>塗りつぶし {n} 件</translation>
    </message>
    <message>
        <source>1 brush or lasso stroke</source>
        <translation>ブラシ・囲って塗る 1 件</translation>
    </message>
    <message>
        <source>{n} brush or lasso strokes</source>
        <translation>ブラシ・囲って塗る {n} 件</translation>
    </message>
    <message>
        <source>1 palette edit</source>
        <translation>パレットの編集 1 件</translation>
    </message>
    <message>
        <source>{n} palette edits</source>
        <translation>パレットの編集 {n} 件</translation>
    </message>
    <message>
        <source>1 other change</source>
        <translation>その他の変更 1 件</translation>
    </message>
    <message>
        <source>{n} other changes</source>
        <translation>その他の変更 {n} 件</translation>
    </message>
    <message>
        <source>Save the changes to {cut}?</source>
        <translation>{cut} の変更を保存しますか？</translation>
    </message>
    <message>
        <source>Save the changes to {cut} ({changes})?</source>
        <translation>{cut} の変更（{changes}）を保存しますか？</translation>
    </message>
</context>
<context>
    <name>viewer</name>
    <message>
        <source>Line art</source>
        <translation>線画</translation>
    </message>
    <message>
        <source>Colour result</source>
        <translation>彩色結果</translation>
    </message>
    <message>
        <source>Overlay</source>
        <translation>オーバーレイ</translation>
    </message>
    <message>
        <source>Side by side</source>
        <translation>並べて表示</translation>
    </message>
    <message>
        <source>Review</source>
        <translation>検査</translation>
    </message>
    <message>
        <source>Unpainted</source>
        <translation>塗り残し</translation>
    </message>
    <message>
        <source>being coloured: a first picture, its paint not decided yet</source>
        <translation>彩色中：最初の仮の絵（塗りはまだ決まっていません）</translation>
    </message>
    <message>
        <source>not coloured yet: showing the line art</source>
        <translation>未彩色: 線画を表示しています</translation>
    </message>
    <message>
        <source>not coloured yet</source>
        <translation>未彩色</translation>
    </message>
    <message>
        <source>not coloured yet: nothing to review</source>
        <translation>未彩色: 検査するものがありません</translation>
    </message>
    <message>
        <source>no confidence map for this frame</source>
        <translation>このフレームには信頼度マップがありません</translation>
    </message>
    <message>
        <source>{share}% of the frame below confidence {threshold}</source>
        <translation>フレームの {share}% が信頼度 {threshold} 未満</translation>
    </message>
    <message>
        <source>not coloured yet: nothing to check</source>
        <translation>未彩色: チェックするものがありません</translation>
    </message>
    <message>
        <source>no unpainted pixels</source>
        <translation>塗り残しなし</translation>
    </message>
    <message>
        <source>{px} unpainted pixel(s) in {spots} spot(s), hatched</source>
        <translation>塗り残し {px} px（{spots} か所）を斜線で表示</translation>
    </message>
    <message>
        <source>none</source>
        <translation>なし</translation>
    </message>
    <message>
        <source>previous key {prev} | this frame | next key {next}</source>
        <translation>前のキー {prev} | このフレーム | 次のキー {next}</translation>
    </message>
</context>
<context>
    <name>worker</name>
    <message>
        <source>{n} of {total} frames to colour</source>
        <extracomment>The cut run&apos;s own sentences (English, as the command line prints them) the status line says in the interface language.</extracomment>
        <translation>{total} フレーム中 {n} フレームを彩色します</translation>
    </message>
    <message>
        <source>{n} frames coloured in {seconds} s</source>
        <translation>{n} フレームを {seconds} 秒で彩色しました</translation>
    </message>
    <message>
        <source>adapting to keys {first} and {last}: step {step}/{steps}</source>
        <translation>キー {first} と {last} にモデルを合わせています：ステップ {step}/{steps}</translation>
    </message>
    <message>
        <source>deciding the paint between keys {first} and {last}</source>
        <translation>キー {first} と {last} の間の塗りを決めています</translation>
    </message>
    <message>
        <source>colouring {name} ({frame}/{frames})</source>
        <translation>{name} を彩色中（{frame}/{frames}）</translation>
    </message>
    <message>
        <source>{name} finished ({frame}/{frames})</source>
        <translation>{name} 完了（{frame}/{frames}）</translation>
    </message>
</context>
</TS>
