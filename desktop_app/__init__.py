"""hashlens: local-first photo captions and hashtags that learn what you like.

Importing this package is cheap: TensorFlow and Qt are imported only by the modules that need
them (`desktop_app.captioning.*` model code and `desktop_app.ui.*`).
"""

__version__ = "0.1.0"
