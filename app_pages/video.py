"""Video page: upload a clip, follow the progress, then each person's emotion over time, the annotated video
and downloads. The clip is analysed in memory (``fer_app.video.file``); results stay in the session, so a
visit to another page does not lose them."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app_pages.common import classifier_or_notice, head_caption, settings_popover
from fer_app.labels import EMOTIONS
from fer_app.video.limits import ANALYSES_PER_SECOND, LIMITS_TEXT, MAX_MB, VIDEO_TYPES


def settings() -> dict:
    with settings_popover("Video settings"):
        every = st.select_slider(
            "Analyse every N-th frame", options=["auto", 1, 2, 3, 5, 10], key="video_every",
            help=f"auto: {ANALYSES_PER_SECOND} frames a second (every 2nd frame at 30 fps). 1 analyses every frame; "
                 "higher values are faster. The annotated video keeps every frame and shows the latest boxes in "
                 "between.")
    st.sidebar.caption(f"auto: {ANALYSES_PER_SECOND} frames analysed a second" if every == "auto"
                       else "Every frame analysed" if every == 1
                       else f"Every {every}{ {2: 'nd', 3: 'rd'}.get(every, 'th')} frame analysed")
    return {"every": None if every == "auto" else every}


def state() -> dict:
    """{'result': the last clip's VideoResult or None, 'key': its upload and settings, 'error', 'cancelled'}."""
    return st.session_state.setdefault("video", {"result": None, "key": None, "error": None, "cancelled": None})


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "estimating the time left"
    seconds = int(round(seconds))
    return f"about {seconds // 60} min {seconds % 60} s left" if seconds >= 60 else f"about {seconds} s left"


def analyse(upload, key: tuple, every: int | None, classifier) -> None:
    """Run the analysis with a progress bar; the outcome (result or one-sentence error) goes into state()."""
    from fer_app.video.limits import VideoError
    from fer_app.video.file import analyze_video

    s = state()
    bar = st.progress(0.0, text=f"Analysing {upload.name} ...")

    def progress(fraction: float, left: float | None) -> None:
        # each update is also where Streamlit stops this run when Cancel is pressed
        bar.progress(fraction, text=f"Analysing {upload.name}: {fraction * 100:.0f}%, {_clock(left)}")

    try:
        result = analyze_video(upload, name=upload.name, every=every, progress=progress, classifier=classifier)
    except VideoError as exc:
        s.update(key=key, error=f"{upload.name}: {exc}")
    except Exception:  # one bad clip never takes the page down
        s.update(key=key, error=f"{upload.name} could not be analysed (a problem while decoding it): "
                                "export it again as MP4 (H.264) and upload that.")
    else:
        s.update(key=key, result=result, error=None)
    bar.empty()


def people_table(result) -> list[dict]:
    return [{"person": f"#{p['track']}", "on screen (s)": p["seconds"], "seen (s)": f"{p['first_seen']:.1f}-"
             f"{p['last_seen']:.1f}", "mostly": p["dominant"], **{e: f"{p['shares'][e] * 100:.0f}%" for e in EMOTIONS}}
            for p in result.people()]


def show(result) -> None:
    from fer_app.video.report import timeline_chart, to_csv, to_json

    st.subheader(result.name)
    speed = result.duration / max(result.seconds, 1e-9)
    st.caption(f"{result.width}x{result.height}, {result.duration:.1f} s, {result.frames} frames "
               f"({result.analysed} analysed), {len(result.tracks)} person(s); analysed in {result.seconds:.0f} s "
               f"({speed:.1f}x real time).")
    if result.notice:
        st.info(result.notice)
    if result.rows:
        st.altair_chart(timeline_chart(result), width="stretch")
        st.markdown("**Share of on-screen time per emotion**")
        st.dataframe(people_table(result), hide_index=True)
        st.caption("A person is a face followed through the clip; one that leaves the picture for more than "
                   "two seconds, or comes back elsewhere, gets a new number.")
    stem = Path(result.name).stem or "video"
    if result.video is not None:
        st.video(result.video, format=result.video_mime)
    cols = st.columns(3)
    if result.video is not None:
        cols[0].download_button(f"Download annotated video ({result.video_suffix[1:].upper()})", result.video,
                                f"{stem}_annotated{result.video_suffix}", result.video_mime, on_click="ignore")
    cols[1].download_button("Download per-frame results (CSV)", to_csv(result), f"{stem}_emotions.csv", "text/csv",
                            on_click="ignore")
    cols[2].download_button("Download results (JSON)", to_json(result), f"{stem}_emotions.json", "application/json",
                            on_click="ignore")


def main() -> None:
    options = settings()
    st.title("Emotions in a video")
    st.write("Upload a clip: every face is followed through it, and you get each person's emotion over time, "
             "an annotated copy of the video and the numbers. The clip is analysed in this session's memory and "
             "never stored.")
    upload = st.file_uploader(f"Video clip (MP4, MOV, WebM, AVI, MKV; {LIMITS_TEXT})", type=list(VIDEO_TYPES),
                              key="video_upload", max_upload_size=MAX_MB)
    s = state()
    key = None if upload is None else (upload.file_id, upload.name, options["every"])
    if key is not None and s["cancelled"] == key:
        st.info(f"The analysis of {upload.name} was cancelled.")
        if st.button("Analyse it again", key="video_again"):
            s["cancelled"] = None
            st.rerun()
    elif key is not None and s["key"] != key:
        classifier = classifier_or_notice()
        if classifier is None:
            return
        cancel_slot = st.empty()
        # pressed while the analysis runs, the button reruns the page: that stops the analysis, and this run
        # sees the button pressed
        if cancel_slot.button("Cancel", key="video_cancel", help="Stop analysing this clip"):
            s["cancelled"] = key
            st.rerun()
        analyse(upload, key, options["every"], classifier)
        cancel_slot.empty()
    if s["error"] and key is not None and s["key"] == key:
        st.warning(s["error"])
    if s["result"] is not None:
        show(s["result"])
        classifier = classifier_or_notice()
        if classifier is not None:
            st.caption(head_caption(classifier))
        if st.button("Clear the results", key="video_clear"):
            st.session_state.pop("video", None)
            st.rerun()
    elif upload is None:
        st.info("Upload a video clip to start.")


main()
