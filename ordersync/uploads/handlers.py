from django.core.files.uploadhandler import FileUploadHandler, StopUpload

# Room in a request for the form's other fields and the multipart headers, which
# take a few hundred bytes.
FORM_ROOM_BYTES = 64 * 1024


class MaxBytesUploadHandler(FileUploadHandler):
    """Stop storing a file as soon as it is known to pass ``limit`` bytes.

    It runs before Django's own handlers. A request whose declared length leaves
    no doubt is stopped when its file begins, before a byte of the file is stored;
    any other file is counted as it streams in and stopped at the first chunk over
    the cap, so Django's temporary file never holds more than ``limit`` bytes (and
    is deleted). The rest of the request is read and dropped so the browser still
    gets the page with the message.
    """

    def __init__(self, request, limit: int) -> None:
        super().__init__(request)
        self.limit = limit
        self.received = 0
        self.declared = 0
        self.too_big = False

    def handle_raw_input(
        self, input_data, META, content_length, boundary, encoding=None
    ) -> None:
        self.declared = content_length

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        if self.declared > self.limit + FORM_ROOM_BYTES:
            self._stop()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.limit:
            self._stop()
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None

    def _stop(self) -> None:
        self.too_big = True
        raise StopUpload(connection_reset=False)
