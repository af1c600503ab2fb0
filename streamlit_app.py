"""Facial emotion recognition demo: photos, live webcam, video files, and the model's own story.

Run with ``streamlit run streamlit_app.py``. This file is the router; each page is a file in ``app_pages/``
(layout and widgets only: every computation is a call into ``fer_app``).
"""

from __future__ import annotations

import streamlit as st

from app_pages.common import keep_settings, warm_up
from fer_app.allocator import tune_allocator

tune_allocator()
st.set_page_config(page_title="Facial emotion recognition", page_icon="🙂", layout="wide")
keep_settings()
pages = [
    st.Page("app_pages/photos.py", title="Photos", icon=":material/photo_library:", url_path="photos", default=True),
    st.Page("app_pages/webcam.py", title="Live webcam", icon=":material/videocam:", url_path="webcam"),
    st.Page("app_pages/video.py", title="Video", icon=":material/movie:", url_path="video"),
    st.Page("app_pages/model.py", title="Model", icon=":material/analytics:", url_path="model"),
]
st.navigation(pages).run()
# after the page is drawn: the warm-up's imports would otherwise compete with the first page for the GIL
warm_up()
