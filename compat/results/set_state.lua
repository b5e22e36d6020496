return written
