"""Model page for examiners: what the model is, how it was trained, how well it does, its limits; then the
training curves, the confusion matrix, the class balance and a gallery of test faces."""

from __future__ import annotations

import json

import streamlit as st

from fer_app.labels import EMOTIONS

LIMITS = [
    "It reads seven posed-looking expressions from one face crop; it does not know what a person feels.",
    "FER-2013's labels come from one annotator per face and are often debatable (fear, sad and angry most of all); "
    "FER+'s ten annotators agree with them on only about two faces in three.",
    "Faces that are small (under about 40 px), strongly turned, covered, or very dark or blurred are read worse.",
    "Disgust has only 392 training faces; its scores rest on 56 test faces.",
    "The figures are on FER-2013 test faces and on 132 real photographs of clear expressions; your photos and faces "
    "differ (lighting, age, culture, subtler expressions), so expect less.",
]


def overview(model_dir, config: dict, metrics: dict | None) -> None:
    st.title("The model")
    train = config.get("data", {}).get("train_counts", {})
    st.markdown(
        f"**What it is.** A MobileNetV2 convolutional network (ImageNet weights, {config.get('img_size')} px input) "
        "that reads one face crop and gives a probability for each of seven emotions: " + ", ".join(EMOTIONS) + ".\n\n"
        f"**What it learned from.** FER-2013: 48x48 grayscale faces with one emotion label each; "
        f"{sum(train.values()):,} faces trained it and a seeded 10 % of the training set chose its settings. "
        "The 3,589 PublicTest faces were used once, for the figures below.\n\n"
        "**How it was trained.** A new classification head first, then the whole network fine-tuned with "
        "augmented faces (random shifts, turns and zooms), label smoothing and class weights; two such models "
        "were averaged weight by weight; a temperature fitted on the validation faces calibrates the "
        "probabilities. Each face is read 10 times (shifted and mirrored) and the answers averaged.")
    if config.get("heads"):
        two_heads(config)
    if not metrics:
        st.info("No test figures shipped with this model: run `python -m training.evaluate --tta --out models`.")
        return
    if metrics.get("ferplus"):
        benchmarks(metrics)
    real_faces(model_dir)
    head = ", FER-2013 head" if config.get("heads") else ""  # the figures below are that head's, on FER-2013's labels
    cols = st.columns(4)
    cols[0].metric(f"Test accuracy{head}", f"{metrics['accuracy'] * 100:.1f}%", help="FER-2013 PublicTest, 3,589 faces")
    cols[1].metric("Macro-F1", f"{metrics['macro_f1']:.3f}", help="F1 averaged over the seven emotions")
    cols[2].metric("Calibration error (ECE)", f"{metrics['ece']:.3f}",
                   help="How far the stated confidence is from the real hit rate; 0 is perfect")
    cols[3].metric("Chance level", f"{100 / len(EMOTIONS):.0f}%")
    share = st.column_config.NumberColumn(format="%.2f")
    st.dataframe([{"emotion": e, **m} for e, m in metrics["per_class"].items()], hide_index=True,
                 column_config={"precision": share, "recall": share, "f1": share, "support": "test faces"})
    st.markdown("**Limits.**\n" + "\n".join(f"- {line}" for line in LIMITS))


#: What FER+ is, said once for both the two-head explanation and the benchmark table
FERPLUS_INTRO = ("FER-2013 gives each face one label, from one annotator. **FER+** (Microsoft, Barsoum et al. 2016) had "
                 "ten crowd annotators relabel every FER-2013 face")


def two_heads(config: dict) -> None:
    from fer_app.model import HEAD_MEANING

    app_head = config.get("app_head", "fer2013")
    st.markdown(
        f"**Two heads, one network.** {FERPLUS_INTRO}; their majority agrees with "
        "FER-2013's label on only about two test faces in three (disgust and fear are the usual disagreements). "
        "This network has two output heads on the same features: the **FER-2013 head**, trained on FER-2013's "
        "labels, and the **crowd head**, trained on the share of the ten votes each emotion got (votes for "
        "contempt, 'unknown' and 'not a face' are left out).\n\n"
        f"**The app's probabilities follow {HEAD_NAMES.get(app_head, app_head)}**: "
        f"{HEAD_MEANING.get(app_head, app_head)}.")


#: How the page names each head or answer of the model in a sentence
HEAD_NAMES = {"crowd": "the crowd head", "fer2013": "the FER-2013 head", "balanced": "the balanced crowd head"}


def real_faces(model_dir) -> None:
    """The app's answer on real photographs (``models/real_faces.json``, ``python -m benchmarks.real_faces``)."""
    path = model_dir / "real_faces.json"
    if not path.is_file():
        return
    report = json.loads(path.read_text())
    app, results = report["app"], report["results"]
    mine = results[app]
    st.markdown(
        f"**On real photographs.** {report['photos']} real photographs (stock photos, film and TV stills, selfies, "
        "from other emotion projects' public repositories; not FER-2013 faces, not used in training), each showing "
        "one clear expression: " + ", ".join(f"{e} {n}" for e, n in report["per_emotion"].items()) + ". An answer is "
        "right when the app's top emotion for the largest face is the expression the photo's source names. "
        f"The app names **{mine['top1']} of {mine['n']}** ({mine['top1'] / mine['n'] * 100:.0f}%; its top two "
        f"include it for {mine['top2']}); it calls {mine['called_neutral']} of the {mine['non_neutral']} "
        "non-neutral faces neutral.")
    rows = [{"answer": HEAD_NAMES.get(name, name) + (" (the app's)" if name == app else ""),
             "right": f"{results[name]['top1']} / {results[name]['n']}",
             "called neutral": f"{results[name]['called_neutral']} / {results[name]['non_neutral']}",
             **results[name]["recall"]} for name in dict.fromkeys([app, "crowd", "fer2013"]) if name in results]
    share = st.column_config.NumberColumn(format="%.2f")
    st.dataframe(rows, hide_index=True, column_config={e: share for e in EMOTIONS})
    st.caption("Recall per emotion: the share of that emotion's photos the answer names. Why the balanced answer: the "
               "crowd head learned FER+'s votes, where neutral is the commonest answer and disgust and fear the rarest, "
               "so on clear expressions it said neutral too often; dividing by the prior it learned (fitted on "
               "validation faces) won on these photos by a rule fixed before they were scored "
               "(docs/real_faces.md). On FER-2013's own test faces, a third of them neutral, it costs some accuracy: "
               "the table above gives both.")


def benchmarks(metrics: dict) -> None:
    """Both truths side by side, each with the head it comes from and published reference points."""
    f = metrics["ferplus"]
    cross = metrics.get("cross", {})
    on_labels, on_crowd = cross.get("crowd_head_on_fer2013_labels"), cross.get("fer2013_head_on_ferplus_majority")
    crowd_name = "crowd" if f["head"] == "crowd" else "FER-2013"
    lines = ["| benchmark | head | accuracy | macro-F1 | published reference points |", "|---|---|---|---|---|",
             f"| FER-2013's labels ({metrics['n']:,} faces) | FER-2013 | **{metrics['accuracy'] * 100:.1f}%** | "
             f"{metrics['macro_f1']:.3f} | people ~65%; MobileNetV2 ~68%; best single networks 73-74% |",
             f"| FER+ crowd majority ({f['n']:,} faces with a clear majority) | {crowd_name} | **{f['accuracy'] * 100:.1f}%** | "
             f"{f['macro_f1']:.3f} | VGG13 trained on the votes: 84-85% (8 classes, FER+'s test split) |"]
    if on_labels and on_crowd:
        lines += [f"| FER-2013's labels | crowd | {on_labels['accuracy'] * 100:.1f}% | {on_labels['macro_f1']:.3f} | |",
                  f"| FER+ crowd majority | FER-2013 | {on_crowd['accuracy'] * 100:.1f}% | {on_crowd['macro_f1']:.3f} | |"]
    answer = metrics.get("answer")
    if answer:
        name = HEAD_NAMES.get(answer["head"], answer["head"]).removeprefix("the ")
        lines += [f"| {truth} | **{name} (the app's)** | {answer[key]['accuracy'] * 100:.1f}% | {answer[key]['macro_f1']:.3f} | |"
                  for truth, key in (("FER-2013's labels", "fer2013_labels"), ("FER+ crowd majority", "ferplus_majority"))
                  if key in answer]
    st.markdown("**Two benchmarks, both on the test faces, 10-view averaging as the app runs it.**")
    if f["head"] != "crowd":
        st.markdown(
            f"{FERPLUS_INTRO}; their majority is a second, less noisy truth. FER-2013's "
            f"own labels agree with it on {f['fer2013_labels_agree'] * 100:.0f}% of these faces. This model has one "
            "head, trained on FER-2013's labels, and the app's probabilities come from it.")
    st.markdown("\n".join(lines))


def figures(model_dir, config: dict, metrics: dict | None) -> None:
    from fer_app.model_charts import confusion_chart, distribution_chart, history_chart, load_history

    st.header("Training history")
    df = load_history(model_dir / "history.csv")
    if df is not None:
        crowd = "val_crowd_accuracy" in df and df["val_crowd_accuracy"].notna().any()
        cols = st.columns(3 if crowd else 2)
        cols[0].altair_chart(history_chart(df, "accuracy", "Accuracy (FER-2013 head)" if crowd else None), width="stretch")
        cols[1].altair_chart(history_chart(df, "loss"), width="stretch")
        if crowd:
            cols[2].altair_chart(history_chart(df, "crowd_accuracy", "Crowd head: the crowd's top emotion"), width="stretch")
    else:
        st.info("No training history shipped with this model.")
    st.header("Test-set results")
    if metrics:
        c1, c2 = st.columns([3, 2])
        if metrics.get("ferplus"):
            fer2013_tab, crowd_tab = c1.tabs(["FER-2013 labels (FER-2013 head)", "crowd majority (crowd head)"
                                              if metrics["ferplus"]["head"] == "crowd" else "crowd majority"])
            fer2013_tab.altair_chart(confusion_chart(metrics["confusion_matrix"], metrics["labels"]), width="stretch")
            crowd_tab.altair_chart(confusion_chart(metrics["ferplus"]["confusion_matrix"], metrics["labels"]),
                                   width="stretch")
        else:
            c1.altair_chart(confusion_chart(metrics["confusion_matrix"], metrics["labels"]), width="stretch")
        counts = config.get("data", {}).get("train_counts")
        if counts:
            c2.altair_chart(distribution_chart(counts), width="stretch")


def gallery(model_dir) -> None:
    sheets = [(e, model_dir / f"gallery_{e}.png") for e in EMOTIONS]
    if not any(path.is_file() for _, path in sheets):
        return
    st.header("Test faces: right answers and most confident mistakes")
    st.caption("Per emotion, the top row shows test faces of that emotion the model got right with the highest "
               "confidence; the bottom row, faces of that emotion it got wrong, captioned with its answer.")
    tabs = st.tabs(list(EMOTIONS))
    for tab, (_, path) in zip(tabs, sheets):
        if path.is_file():
            tab.image(str(path), width="stretch")


def explanations(model_dir) -> None:
    try:
        from app_pages.explain_panel import show_average_maps
    except ImportError:  # the explanation panel ships separately
        return
    show_average_maps(model_dir)


def main() -> None:
    from fer_app.model import default_model_dir

    model_dir = default_model_dir()
    config_path, metrics_path = model_dir / "config.json", model_dir / "metrics.json"
    if not config_path.is_file():
        st.title("The model")
        st.error(f"No model found in `{model_dir}`: restore the `models/` folder from the repository or train one "
                 "(see the README).")
        return
    config = json.loads(config_path.read_text())
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else None
    overview(model_dir, config, metrics)
    figures(model_dir, config, metrics)
    gallery(model_dir)
    explanations(model_dir)
    st.caption("The full model card, with the training commands and the research record behind these choices, "
               "is `models/MODEL_CARD.md` in the repository.")


main()
