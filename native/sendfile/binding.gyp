{
  "targets": [
    {
      "target_name": "berth_sendfile",
      "sources": ["sendfile.c", "durable-write.c", "hash-write.c", "recv-into.c", "recv-chunked.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
