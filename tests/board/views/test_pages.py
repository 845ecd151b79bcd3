"""Every board page in Streamlit's AppTest, against a real SQLite store seeded per docs/telemetry.md."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.board.seed import seed_board
from tracker.ideas import get_idea, list_ideas

APP = str(Path(__file__).resolve().parents[3] / "board" / "app.py")


@pytest.fixture
def seeded(store):
    return seed_board(store)


def markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


# -- Ideas -----------------------------------------------------------------------
def test_ideas_ranked_with_score_parts_and_run_counts(seeded, page):
    at = page("ideas")
    assert not at.exception
    df = at.dataframe[0].value
    assert list(df["title"]) == ["Tune learning rate", "Wider model", "Curriculum"]
    assert list(df["rank"]) == [1, 2, 3]
    # the revision (likelihood 0.4 -> 0.5) counts: 0.5 * 0.02 / 2, not 0.4 * 0.02 / 2
    assert df.loc[0, "score"] == pytest.approx(0.005)
    assert df.loc[1, "effective hours"] == pytest.approx(5.0)  # 4 h x (1 + 0.25 x 1)
    # 3 stage runs + 1 sweep + 3 trials for the first idea, the running overfit for the second
    assert list(df["runs"]) == [7, 1, 0]
    # the title column is the link: the idea page's URL, the title after `#` (what the grid shows)
    assert df.loc[0, "link"] == f"idea?id={seeded.ideas['Tune learning rate']}#Tune%20learning%20rate"


def test_category_filter(seeded, page):
    at = page("ideas")
    at.multiselect[1].set_value(["architecture", "curriculum"]).run()
    assert list(at.dataframe[0].value["title"]) == ["Wider model", "Curriculum"]


def test_why_this_rank_explains_the_score(seeded, page):
    at = page("ideas")
    at.selectbox(key="picked").set_value(seeded.ideas["Wider model"]).run()
    text = markdown(at)
    assert "likelihood 0.4 × impact 0.03 = **0.012**" in text
    assert "complexity tax 1.25" in text
    assert "rank **2** of 3" in text
    assert "below **Tune learning rate**" in text


def _fill_add(at: AppTest, **values: str) -> AppTest:
    for key, value in values.items():
        at.text_input(key=f"add_{key}").set_value(value)
    return at


def test_add_form_adds_a_ranked_idea(store, seeded, page):
    at = page("ideas")
    _fill_add(at, title="Label smoothing", hours="1", complexity="1", impact="0.02", likelihood="0.9")
    at.button[0].click().run()  # the form's submit button
    assert not at.exception and not at.error
    assert "Added idea" in at.success[0].value
    assert [i.title for i in list_ideas(store)][0] == "Label smoothing"  # 0.9*0.02/1 beats 0.005
    assert at.dataframe[0].value["title"].iloc[0] == "Label smoothing"  # no stale cache


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("likelihood", "1.5", "likelihood=1.5 is out of range; allowed: [0, 1]"),
        ("complexity", "2.5", "complexity=2.5 is out of range"),
        ("hours", "0", "hours=0 is out of range; allowed: (0, 10000]"),
        ("impact", "lots", "impact='lots' is not a number"),
    ],
)
def test_add_form_rejects_a_bad_value_and_writes_nothing(store, seeded, field, value, message, page):
    before = len(list_ideas(store))
    at = page("ideas")
    good = dict(title="x", hours="1", complexity="1", impact="0.01", likelihood="0.5")
    _fill_add(at, **{**good, field: value})
    at.button[0].click().run()
    assert not at.exception
    assert at.error[0].value.startswith(message)  # the CLI's one-line message
    assert len(list_ideas(store)) == before


def test_add_form_rejects_an_empty_title(store, seeded, page):
    at = page("ideas")
    _fill_add(at, title="  ", hours="1", complexity="1", impact="0.01", likelihood="0.5")
    at.button[0].click().run()
    assert "title is empty" in at.error[0].value
    assert len(list_ideas(store)) == 3


def test_template_fills_the_form(seeded, page):
    at = page("ideas")
    at.selectbox(key="template").set_value("Bigger model / different backbone").run()
    assert at.text_input(key="add_title").value == "Bigger model / different backbone"
    assert at.text_input(key="add_category").value == "architecture"
    assert at.text_input(key="add_hours").value == "4"
    assert at.text_input(key="add_likelihood").value == "0.35"


def test_two_editors_at_once_lose_nothing(store, seeded, page):
    idea = seeded.ideas["Curriculum"]
    alice, bob = page("ideas"), page("ideas")
    for at in (alice, bob):  # both open the same idea before either saves
        at.selectbox(key="picked").set_value(idea).run()
    alice.text_input(key="edit_hours").set_value("6")
    alice.button[1].click().run()
    bob.text_input(key="edit_likelihood").set_value("0.3")
    bob.text_input(key="edit_note").set_value("pilot looked good")
    bob.button[1].click().run()
    assert not alice.error and not bob.error
    found, revisions, _ = get_idea(store, idea)
    # a form that sent every field would have put bob's stale hours=8 back
    assert (found.hours, found.likelihood) == (6.0, 0.3)
    assert [r.changes for r in revisions[1:]] == [{"hours": 6.0}, {"likelihood": 0.3}]
    assert revisions[-1].source == "board" and revisions[-1].note == "pilot looked good"


def test_edit_rejects_a_bad_value_and_writes_nothing(store, seeded, page):
    idea = seeded.ideas["Curriculum"]
    at = page("ideas")
    at.selectbox(key="picked").set_value(idea).run()
    at.text_input(key="edit_complexity").set_value("9")
    at.button[1].click().run()
    assert at.error[0].value.startswith("complexity=9 is out of range")
    assert len(get_idea(store, idea)[1]) == 1


# -- Idea ------------------------------------------------------------------------
def test_idea_page_overview_ladder_runs_and_timing(seeded, page):
    at = page("idea", id=seeded.ideas["Tune learning rate"], tab="Overview")
    assert not at.exception
    # one badge per rung, in ladder order: check, baseline, overfit 1, overfit few, generalize, scale
    badges = [m.value for m in at.markdown if "-badge[" in m.value]
    assert badges == [
        ":gray-badge[:material/radio_button_unchecked: not run]",
        ":green-badge[:material/check_circle: recorded]",
        ":green-badge[:material/check_circle: passed]",
        ":green-badge[:material/check_circle: passed]",
        ":red-badge[:material/cancel: failed]",
        ":gray-badge[:material/radio_button_unchecked: not run]",
    ]
    assert "idealoop run scale --idea" in "\n".join(c.value for c in at.caption)
    runs = at.dataframe[1].value  # [0] is the revision history
    assert list(runs["run"]) == [
        "stage_baseline",
        "stage_overfit",
        "stage_generalize",
        "tune_generalize",
        "└─ trial_0",
        "└─ trial_1",
        "└─ trial_2",
    ]
    assert runs.loc[5, "why it ended"] == "stopped_by_asha at iteration 2"
    assert runs.loc[2, "flags"] == "exploding_grad, slow_batch"
    assert [m.label for m in at.metric][:5] == ["score", "hours", "complexity", "impact", "likelihood"]
    assert at.get("progress")[0].proto.text == "data 25% · compute 75%"  # 0.002 s vs 0.006 s per batch
    # only the open tab is computed: the sweep view's 3 charts (accuracy by lr, by width, parallel
    # coordinates; tests/board/views/test_sweep_view.py), none of the Curves tab's
    assert len(at.get("vega_lite_chart")) == 3


def test_idea_page_opens_on_the_curves_of_the_newest_stage_run(seeded, page):
    at = page("idea", id=seeded.ideas["Tune learning rate"])
    assert not at.exception
    assert [t.label for t in at.tabs] == ["Curves", "Overview", "Histograms", "Samples"]
    assert at.selectbox(key="run_pick").value == seeded.runs["generalize"]
    # per batch, then val/accuracy and val/loss (large), then val/f1_macro
    assert len(at.get("vega_lite_chart")) == 4
    assert any("exploding_grad" in w.value for w in at.warning)  # flags show above every tab
    assert "600 of 600 logged points drawn" in "\n".join(c.value for c in at.caption)
    # logged once (or constant): numbers, not one-point charts
    labels = [m.label for m in at.metric]
    assert {"generalize/val_loss_start", "generalize/val_loss_best", "train/lr"} <= set(labels)


def test_idea_page_samples_tab(seeded, page):
    at = page("idea", id=seeded.ideas["Tune learning rate"], tab="Samples")
    assert not at.exception
    assert "epoch" in [s.label for s in at.select_slider]
    assert len(at.get("vega_lite_chart")) == 1  # the confusion matrix, from its JSON
    assert len(at.get("image")) == 1  # the samples grid


def test_idea_page_histograms_of_a_run(seeded, page):
    at = page("idea", id=seeded.ideas["Tune learning rate"], run=seeded.runs["overfit"], tab="Histograms")
    assert not at.exception
    charts = at.get("vega_lite_chart")
    # one heatmap per layer of the first kind (acts)
    assert len(charts) == 2
    captions = "\n".join(c.value for c in at.caption)
    assert "**dead_activations** from step 0" in captions  # acts/2.weight (a ReLU) is 99.5% zeros
    at.segmented_control(key="hist_kind").set_value("grads").run()
    # non-finite gradients at step 300: the global norm is not finite, shown on the largest gradient
    assert "**exploding_grad** from step 300" in "\n".join(c.value for c in at.caption)


def test_idea_without_runs_shows_how_to_start(seeded, page):
    at = page("idea", id=seeded.ideas["Curriculum"])
    assert not at.exception
    assert any(f"idealoop run overfit --idea {seeded.ideas['Curriculum']}" in i.value for i in at.info)
    assert len(at.get("vega_lite_chart")) == 0


def test_running_idea_is_live(seeded, page):
    at = page("idea", id=seeded.ideas["Wider model"], tab="Overview")
    badges = [m.value for m in at.markdown if "-badge[" in m.value]
    assert badges[2:4] == [  # after check and baseline
        ":green-badge[:material/check_circle: passed]",
        ":orange-badge[:material/pending: running]",
    ]
    assert any("refreshes every" in c.value for c in at.caption)


def test_unknown_idea_id_is_one_message(seeded, page):
    at = page("idea", id="nope")
    assert not at.exception
    assert at.error[0].value.startswith("No idea 'nope'")


# -- Compare ---------------------------------------------------------------------
def test_compare_two_runs_side_by_side(seeded, page):
    a, b = seeded.runs["overfit"], seeded.trials[1]
    at = page("compare", runs=f"{a},{b}")
    assert not at.exception
    assert at.multiselect[0].value == [a, b]
    assert at.selectbox(key="compare_key").value == "train/loss"
    assert len(at.get("vega_lite_chart")) == 1
    final = at.dataframe[0].value  # one row per run (tests/board/views/test_compare.py has more)
    assert len(final) == 2
    assert list(final["ended"]) == ["completed", "stopped_by_asha at iteration 2"]
    assert final["overfit_one/final_loss"].iloc[0] == 0.004


def test_compare_with_no_runs_says_how(store, page):
    at = page("compare")
    assert not at.exception
    assert "idealoop run overfit" in at.info[0].value


# -- every page (the Launch page's own tests: test_launch.py) ----------------------
@pytest.mark.parametrize("name", ["ideas", "idea", "launch", "compare"])
def test_a_bad_uri_is_one_line_on_every_page(store, monkeypatch, name, page):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "nope://nowhere")
    at = page(name)
    assert not at.exception
    assert at.error[0].value.startswith("Cannot read ") and "nope://nowhere" in at.error[0].value
    assert "\n" not in at.error[0].value
