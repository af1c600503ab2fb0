"""Figures from one source: every headline figure the README, the model card and docs/real_faces.md quote is
computed here from models/metrics.json and models/real_faces.json and must appear in them as written (the Model
page reads the two files itself)."""

from __future__ import annotations

import json

import pytest

from conftest import MODELS, ROOT, needs_shipped_model

pytestmark = needs_shipped_model


def pct(x: float) -> str:
    return f"{x * 100:.1f} %"


@pytest.fixture(scope="module")
def figures() -> dict[str, str]:
    m = json.loads((MODELS / "metrics.json").read_text())
    r = json.loads((MODELS / "real_faces.json").read_text())
    app, crowd, fer = (r["results"][k] for k in (r["app"], "crowd", "fer2013"))
    answer = m["answer"]
    return {
        "ferplus": f"**{pct(m['ferplus']['accuracy'])}**",
        "fer2013": f"**{pct(m['accuracy'])}**",
        "ferplus_f1": f"macro-F1 {m['ferplus']['macro_f1']:.3f}",
        "fer2013_f1": f"macro-F1 {m['macro_f1']:.3f}",
        "answer_ferplus": f"{pct(answer['ferplus_majority']['accuracy'])}, macro-F1 {answer['ferplus_majority']['macro_f1']:.3f}",
        "answer_fer2013": f"{pct(answer['fer2013_labels']['accuracy'])}, macro-F1 {answer['fer2013_labels']['macro_f1']:.3f}",
        "answer_ferplus_plain": pct(answer["ferplus_majority"]["accuracy"]),
        "real_app": f"{app['top1']} / {app['n']} ({pct(app['top1'] / app['n'])})",
        "real_crowd": f"{crowd['top1']} / {crowd['n']} ({pct(crowd['top1'] / crowd['n'])})",
        "real_fer2013": f"{fer['top1']} / {fer['n']} ({pct(fer['top1'] / fer['n'])})",
        "real_neutral": f"{app['called_neutral']} / {app['non_neutral']}",
        "readme_real": f"**{app['top1']}** right ({pct(app['top1'] / app['n'])}",
        "readme_neutral": f"calls {app['called_neutral']} of the {app['non_neutral']} non-neutral faces neutral",
        "ece": f"ECE {m['ece']:.3f}",
    }


QUOTED = {
    "README.md": ("ferplus", "fer2013", "readme_real", "readme_neutral", "answer_ferplus_plain"),
    "models/MODEL_CARD.md": ("ferplus", "fer2013", "ferplus_f1", "fer2013_f1", "answer_ferplus", "answer_fer2013",
                             "real_crowd", "real_fer2013", "real_neutral", "ece"),
    "docs/real_faces.md": ("real_app", "real_crowd", "real_fer2013", "real_neutral", "answer_ferplus_plain"),
}


@pytest.mark.parametrize("doc", sorted(QUOTED))
def test_each_quoted_figure_is_the_shipped_one(doc, figures):
    text = (ROOT / doc).read_text()
    missing = {key: figures[key] for key in QUOTED[doc] if figures[key] not in text}
    assert not missing, f"{doc} does not quote these shipped figures as written: {missing}"


def test_the_card_states_the_apps_real_face_figure_in_bold(figures):
    assert f"**{figures['real_app']}**" in (ROOT / "models" / "MODEL_CARD.md").read_text()
