"""The attendee's workspace image: its Dockerfile, in-sandbox scripts and build function."""
