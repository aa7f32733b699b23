#!/usr/bin/env bash
# README screenshots of the studio on the demo benchmark, taken in a virtual X display (Xvfb):
#   docs/screenshots/inspect_event.png   the inspect view on an event item
#   docs/screenshots/inspect_object.png  the inspect view on an object item, on its clue frame
#   docs/screenshots/compare_{event,object,attribute}.png  the compare view, thinking vs direct
# The demo is built on first use (cached under the user data dir), like `avr-studio --demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${BIN:-.venv/bin}"
OUT="${OUT:-docs/screenshots}"
SIZE="${SIZE:-1600x1000}"
mkdir -p "$OUT"

if ! command -v xvfb-run >/dev/null 2>&1; then
  echo "xvfb-run not found (apt-get install xvfb)" >&2
  exit 1
fi
studio() { xvfb-run -a -s "-screen 0 ${SIZE}x24" "$BIN/avr-studio" --demo --size "$SIZE" "$@"; }

# Build the demo once (the first call shows a progress dialog), then pick telling items.
"$BIN/python" - <<'PY'
from engine.demo import demo_dir, demo_is_built, ensure_demo
if not demo_is_built(demo_dir()):
    ensure_demo(demo_dir(), progress=lambda message, fraction: print(f"  {fraction:4.0%} {message}", flush=True))
PY
read -r EVENT EVENT_T OBJECT OBJECT_T < <("$BIN/python" - <<'PY'
from engine.scoring import gt_frame_times
from engine.demo import demo_data, demo_dir
from avr_studio.models import Session

data = demo_data(demo_dir())
session = Session()
session.open_dataset(data.dataset)
run = session.add_run(data.runs[0])

def pick(category, wanted):
    for item in session.items:
        score = run.clue_score(item.index)
        if item.category == category and not score.failed and wanted(item, score):
            return item
    return next(i for i in session.items if i.category == category)

# an event item whose answer both matches and misses, shown inside its first GT interval;
# an object item with several boxes on one frame and mixed outcomes, shown on that frame
event = pick("event", lambda i, s: i.modality == "visual" and {"matched", "missed"} <= set(s.kinds()))
def busiest_frame(item):
    times = [c.timestamp for c in item.clue]
    return max(times.count(t) for t in times)

obj = pick("object", lambda i, s: busiest_frame(i) >= 4 and len(s.kinds()) >= 2)
frame_time = max(gt_frame_times(obj), key=lambda t: sum(c.timestamp == t for c in obj.clue))
first = event.clue[0]
print(event.index, round((first.start + first.end) / 2, 3), obj.index, frame_time)
PY
)
studio --select "$EVENT" --seek "$EVENT_T" --screenshot "$OUT/inspect_event.png"
studio --select "$OBJECT" --seek "$OBJECT_T" --screenshot "$OUT/inspect_object.png"

# The compare view (thinking vs direct) on an event, an object and an attribute item where the two
# runs' outcomes differ, each shown on its first differing clue; the event one in official scoring
# (with the thinking-run warning), the others in strict scoring.
while read -r CATEGORY INDEX T MODE; do
  studio --compare thinking,direct --select "$INDEX" --seek "$T" --mode "$MODE" \
    --screenshot "$OUT/compare_$CATEGORY.png"
done < <("$BIN/python" - <<'PY'
from avr_studio.models import Session
from avr_studio.models.compare_rows import compare_tree
from engine.demo import demo_data, demo_dir

data = demo_data(demo_dir())
session = Session(mode="strict")
session.open_dataset(data.dataset)
a, b = (session.add_run(p) for p in sorted(data.runs, key=lambda p: "thinking" not in p.name))

def first_difference(item):
    sa, sb = a.clue_score(item.index), b.clue_score(item.index)
    if sa is None or sb is None or sa.failed or sb.failed:
        return None
    if item.category == "event":
        kinds = [{m.gt: m.kind for m in s.clusters[0].frames[0].matches if m.gt is not None} for s in (sa, sb)]
        differing = [c for g, c in enumerate(item.clue) if kinds[0].get(g) != kinds[1].get(g)]
        return (differing[0].start + differing[0].end) / 2 if differing else None
    for cluster in compare_tree(sa, sb):
        for frame in cluster.children:
            if frame.differs and frame.name.endswith("s"):  # "F2 52.70s" (frames with a GT time)
                return float(frame.name.split()[1].rstrip("s"))
    return None

for category, mode in (("event", "official"), ("object", "strict"), ("attribute", "strict")):
    for item in session.items:
        t = first_difference(item) if item.category == category else None
        if t is not None:
            print(category, item.index, round(t, 3), mode)
            break
PY
)
