"""The defaults the library, the CLIs and the pages share: each set once, here (no imports, so any module may
read them). Chosen by the benchmarks named beside them."""

#: Face detector for still photos (accurate) and for moving pictures (fast): benchmarks/latency.py,
#: benchmarks/detectors.py, docs/detectors.md
PHOTO_DETECTOR = "mtcnn"
VIDEO_DETECTOR = "haar"

#: Smallest face side searched for, in pixels of the image as given:
#: a photo: MTCNN's smallest reliable face (docs/detectors.md: the shared group photos' faces from ~25 px);
PHOTO_MIN_FACE = 20
#: a webcam frame (640x480): faces nearer than arm's length are far larger, and the Haar cascade's false boxes
#: are small;
WEBCAM_MIN_FACE = 40
#: a video clip: the webcam's effective limit (its analyzer detects on a 320 px copy of a 640 px frame, where the
#: Haar cascade's 24 px window is 48 px).
VIDEO_MIN_FACE = 48
