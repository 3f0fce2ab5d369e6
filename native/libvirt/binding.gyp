{
  "targets": [
    {
      "target_name": "kaas_libvirt",
      "sources": [
        "src/addon.cc",
        "src/common.cc",
        "src/events.cc",
        "src/connection.cc",
        "src/domain.cc",
        "src/channel.cc",
        "src/storage.cc",
        "src/network.cc",
        "src/constants.cc",
        "src/memory.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["-std=c++17", "-fexceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "libraries": ["<!@(pkg-config --libs libvirt)"],
      "cflags": ["<!@(pkg-config --cflags libvirt)"]
    }
  ]
}
