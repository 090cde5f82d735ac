{
  "targets": [
    {
      "target_name": "ec_verify",
      "sources": ["ec-verify.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
