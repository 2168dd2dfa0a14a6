"""Support code for the shared client suite: lesson.toml accounting, the server process, sockets."""
