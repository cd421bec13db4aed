from django.core.files.uploadhandler import FileUploadHandler, StopUpload


class MaxBytesUploadHandler(FileUploadHandler):
    """Stop storing a file as soon as it passes ``limit`` bytes.

    It runs before Django's own handlers, so an oversized file is never written
    in full; the rest of the request is read and dropped so the browser still gets
    the page with the message.
    """

    def __init__(self, request, limit: int) -> None:
        super().__init__(request)
        self.limit = limit
        self.received = 0
        self.too_big = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.limit:
            self.too_big = True
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None
