{
  "targets": [
    {
      "target_name": "berth_sendfile",
      "sources": ["sendfile.c", "durable-write.c", "hash-write.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
