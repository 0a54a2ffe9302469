"""Media files: content-addressed local storage, image checks and multipart uploads.

- :mod:`.storage`: files stored once by their SHA-256 (``ab/cd/<sha256>.<ext>``
  under ``config.media_dir``), written atomically; served by
  :mod:`fedisora.web.media` at ``/media/<path>``;
- :mod:`.images`: is an upload a real PNG/JPEG/GIF/WebP (magic bytes and
  structure) within ``[media] max_image_bytes``;
- :mod:`.uploads`: reading a ``multipart/form-data`` body with its files,
  without python-multipart.
"""
