"""Image bytes and files on disk: decoding, resizing, storing, sweeping orphans."""
