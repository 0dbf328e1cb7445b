#!/usr/bin/python3
"""Test RTSP server: serves an H.264 MP4 file on rtsp://127.0.0.1:<port>/<path>.

Each client gets its own pipeline, so every connection starts at the beginning of the
file. Prints READY once listening; exits on SIGTERM/SIGINT.

With --live instead of --file it serves a live picture of one colour, encoded as it is
made and shared by every client; a line `color 0xAARRGGBB` on stdin changes the colour from
the next frame on and is answered `COLOR <hex>` (benchmarks time it to the viewer's screen).
"""
import argparse
import signal
import sys
import threading

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def live_source(factory, args) -> None:
    """One shared live pipeline whose colour stdin commands change."""
    width, height = args.size.split("x")
    factory.set_launch(
        "( videotestsrc name=src is-live=true pattern=solid-color foreground-color=0xff000000 "
        f"! video/x-raw,width={width},height={height},framerate={args.fps}/1 ! videoconvert "
        f"! x264enc tune=zerolatency speed-preset=ultrafast bframes=0 key-int-max={args.fps} "
        "! h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96 config-interval=1 )"
    )
    factory.set_shared(True)
    sources = []
    factory.connect("media-configure", lambda _f, media: sources.append(media.get_element().get_by_name("src")))

    def read_commands() -> None:
        for line in sys.stdin:
            parts = line.split()
            if len(parts) == 2 and parts[0] == "color":
                value = int(parts[1], 16)
                for src in sources:
                    src.set_property("foreground-color", value)
                print(f"COLOR {parts[1]}", flush=True)

    threading.Thread(target=read_commands, daemon=True).start()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--file")
    parser.add_argument("--live", action="store_true")
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--path", default="/cam")
    args = parser.parse_args()
    if bool(args.file) == args.live:
        parser.error("give either --file or --live")

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))

    factory = GstRtspServer.RTSPMediaFactory()
    if args.live:
        live_source(factory, args)
    else:
        location = args.file.replace("\\", "\\\\").replace('"', '\\"')
        factory.set_launch(
            f'( filesrc location="{location}" ! qtdemux ! h264parse config-interval=-1 '
            "! rtph264pay name=pay0 pt=96 config-interval=1 )"
        )
        factory.set_shared(False)
    server.get_mount_points().add_factory(args.path, factory)

    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{args.port}", file=sys.stderr, flush=True)
        return 1

    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    print("READY", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
