"""Live webcam page: the stream with boxes, the main face's chart while it runs, a summary after STOP."""

from __future__ import annotations

import time

import streamlit as st

from app_pages.common import classifier_or_notice, head_caption, settings_popover, views_text

CAMERA_HELP = ("Press **START** and allow the camera. If the browser blocks it, click the camera icon in the "
               "address bar, choose *Allow*, and press START again; with no camera (or where the stream cannot "
               "connect) use the snapshot on the Photos page. Frames are analysed in memory and never stored.")
#: 15 frames a second, the rate at which every webcam figure in docs/ was measured (benchmarks.browser's camera
#: clip): a webcam's usual 30 would double what the server decodes, analyses and encodes for each viewer, and the
#: bandwidth through a TURN server. ``ideal`` values never make a camera refuse.
VIDEO_CONSTRAINTS = {"width": 640, "height": 480, "frameRate": {"ideal": 15}}
#: The live timeline shows this many seconds: redrawn twice a second, the whole session's points (15 a second)
#: would make every redraw heavier for the server and the browser; the summary after STOP shows them all.
LIVE_WINDOW_S = 60


def settings() -> dict:
    with settings_popover("Webcam settings"):
        options = {
            "smoothing": st.slider("Smoothing", 0.0, 0.95, 0.6, step=0.05, key="smoothing",
                                   help="Weight of the previous probabilities in each new frame's."),
            "detect_every": st.slider("Find faces every N frames", 1, 15, 5, key="detect_every",
                                      help="Faces are tracked between detections."),
            "tta": st.checkbox("Average 10 shifted and mirrored views", value=True, key="webcam_tta"),
        }
    st.sidebar.caption(f"Smoothing {options['smoothing']:.2f}, faces found every {options['detect_every']} frames, "
                       f"{views_text(options['tta'])}")
    return options


def stream_objects(classifier):
    """The page's (LiveResults, VideoAnalyzer), made once per browser session."""
    from fer_app.video.tracker import VideoAnalyzer
    from fer_app.video.webcam import LiveResults

    if "live" not in st.session_state:
        st.session_state.live = LiveResults()
        st.session_state.analyzer = VideoAnalyzer(classifier=classifier)
    return st.session_state.live, st.session_state.analyzer


def ice_configuration():
    from fer_app.video.webcam import ice_servers

    try:
        secrets = st.secrets
    except Exception:  # no secrets file: fine, the environment and the library's defaults remain
        secrets = None
    servers, source = ice_servers(secrets)
    return (None if servers is None else {"iceServers": servers}), source


def show_live(ctx, live, status, chart_slot, timeline_slot) -> None:
    """Refresh the status line, the main face's chart and the timeline twice a second while it streams."""
    from fer_app.charts import probability_chart, timeline_chart

    while ctx.state.playing:
        snap = live.snapshot()
        if snap and snap["main"] is not None:
            main = snap["main"]
            status.markdown(f"**{main.emotion}** ({main.probabilities[main.emotion] * 100:.0f}%) · "
                            f"{len(snap['faces'])} face(s) · {snap['fps']:.1f} fps · "
                            f"{snap['timings'].get('total_ms', 0):.0f} ms/frame")
            chart_slot.vega_lite_chart(spec=probability_chart(main.probabilities, "Main face"), width="stretch")
        elif snap:
            status.markdown(f"**No face in view** · {snap['fps']:.1f} fps")
            chart_slot.info("No face in view: face the camera, in good light.")
        recent = live.timeline(last_seconds=LIVE_WINDOW_S)
        timeline = timeline_chart(recent, f"Emotion timeline (main face, last {LIVE_WINDOW_S} s)")
        timeline_slot.vega_lite_chart(spec=timeline, width="stretch")
        time.sleep(0.5)


def show_summary(live) -> None:
    """After STOP: share of time per emotion, the timeline, and the timeline as CSV."""
    from fer_app.charts import share_chart, timeline_chart
    from fer_app.video.webcam import session_summary, timeline_csv

    records = live.timeline()
    if not records:
        st.info("The live chart appears here once the stream runs; a summary follows when you press STOP.")
        return
    st.subheader(f"Summary of the last session ({records[-1]['t']:.0f} s with a face in view)")
    c1, c2 = st.columns([2, 3])
    c1.vega_lite_chart(spec=share_chart(session_summary(records)), width="stretch")
    c2.vega_lite_chart(spec=timeline_chart(records), width="stretch")
    st.download_button("Download the timeline (CSV)", timeline_csv(records), "webcam_timeline.csv", "text/csv",
                       on_click="ignore")


def main() -> None:
    from streamlit.runtime import Runtime
    from streamlit_webrtc import WebRtcMode, webrtc_streamer

    from fer_app.video.webcam import make_frame_callback, use_latest_frame_relay

    options = settings()
    st.title("Live webcam")
    classifier = classifier_or_notice()
    if classifier is None:
        return
    live, analyzer = stream_objects(classifier)
    # settings reach the callback thread through the analyzer's attributes (plain assignments)
    analyzer.smoothing, analyzer.tta, analyzer.detect_every = options["smoothing"], options["tta"], options["detect_every"]
    rtc_configuration, source = ice_configuration()
    left, right = st.columns([3, 2])
    with left:
        try:
            use_latest_frame_relay(Runtime.instance())
            ctx = webrtc_streamer(
                key="fer-webcam", mode=WebRtcMode.SENDRECV, rtc_configuration=rtc_configuration,
                media_stream_constraints={"video": VIDEO_CONSTRAINTS, "audio": False},
                video_frame_callback=make_frame_callback(analyzer, live), async_processing=True)
        except Exception:  # e.g. no Streamlit server runtime (bare script, AppTest)
            st.warning("The live webcam is not available here. Use the snapshot on the Photos page instead.")
            return
        st.caption(CAMERA_HELP)
        st.caption(f"Connection servers: {source}.")
        st.caption(head_caption(classifier))
    playing = ctx.state.playing
    if playing and not st.session_state.get("webcam_was_playing"):  # START: a fresh timeline
        live.clear()
        analyzer.reset()
    st.session_state.webcam_was_playing = playing
    with right:
        status, chart_slot = st.empty(), st.empty()
    timeline_slot = st.empty()
    if playing:
        show_live(ctx, live, status, chart_slot, timeline_slot)
    else:
        with timeline_slot.container():
            show_summary(live)


main()
