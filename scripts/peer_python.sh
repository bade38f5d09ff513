# Sourced by the bench scripts: peer_python MODULE PACKAGE makes Debian's python3 import
# MODULE, installing PACKAGE with apt-get when run as root (peers are for benchmarks only:
# never the product or `make test`). Prints nothing on success; exits 1 with a hint otherwise.
peer_py=/usr/bin/python3
peer_python() {
  if $peer_py -c "import $1" 2>/dev/null; then return 0; fi
  if [ "$(id -u)" -eq 0 ]; then
    echo "bench: installing $2" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null
  else
    echo "bench: needs Debian's $2 (sudo apt-get install $2)" >&2
    exit 1
  fi
}
