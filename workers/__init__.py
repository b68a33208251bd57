"""workers: answer questions from the queue (retrieve -> generate -> deliver -> record)."""
