"""Moving pictures, one engine for the webcam and video files.

- ``tracker``: :class:`~fer_app.video.tracker.VideoAnalyzer`: detect every few frames, track in between, smooth
  each face's probabilities; a frame in, :class:`~fer_app.video.tracker.FrameResult` out;
- ``limits``: what a clip may be (size, length, resolution), the analysis rates and :class:`VideoError`;
- ``clip_pass``: one pass over a clip's frames (decode, analyse, rows per face, person numbers, annotated copy);
- ``file``: :func:`~fer_app.video.file.analyze_video`, a clip held in memory -> :class:`VideoResult`;
- ``encode``: the annotated copy (H.264 MP4 or WebM) and the boxes drawn on it;
- ``report``: :class:`~fer_app.video.report.VideoResult`, its people, CSV, JSON and timeline chart;
- ``webcam``: the live stream's plumbing (ICE servers, the latest-frame relay, the results channel).

Imported one module at a time (``from fer_app.video.file import analyze_video``); this package imports nothing.
"""
