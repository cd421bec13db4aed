class UploadError(Exception):
    """A wizard action the upload's state does not allow; the message is for people."""
