#!/usr/bin/env bash
# Runs the real app under Xvfb, shares a folder from one window to another,
# sends files and a message into the second window's receive link from the
# command line, and writes PNGs of the send, receive, history and settings screens to
# docs/; then a third window sending to a nearby one; then the browser pages' pictures from the Chromium tests.
#
# Network safety: both windows run inside a network namespace of their own
# with only loopback and a veth pair (10.250.0.1/24), so WebRTC never sees
# the machine's real interfaces. Needs root (ip netns) and `make deps`.
set -euo pipefail
cd "$(dirname "$0")/.."
out=docs
bin=$PWD/bin/epicshare
ns=epicshots$$
display=:$((90 + $$ % 9))
work=$(mktemp -d)
pids=()

cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
ip netns exec "$ns" ip link add v0 type veth peer name v1
ip netns exec "$ns" ip addr add 10.250.0.1/24 dev v0
ip netns exec "$ns" ip link set v1 up
ip netns exec "$ns" ip link set v0 up

Xvfb "$display" -screen 0 1600x700x24 -nolisten tcp &
pids+=($!)
export DISPLAY=$display
for _ in $(seq 50); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done

# Something to share.
mkdir -p "$work/src/Holiday 2026/photos" "$work/src/Holiday 2026/videos" "$work/recv"
head -c 2400000 /dev/urandom >"$work/src/Holiday 2026/photos/beach.jpg"
head -c 1800000 /dev/urandom >"$work/src/Holiday 2026/photos/sunset.jpg"
head -c 48000000 /dev/urandom >"$work/src/Holiday 2026/videos/waves.mp4"
echo "Packing list" >"$work/src/Holiday 2026/notes.txt"
head -c 350000 /dev/urandom >"$work/src/itinerary.pdf"

# app HOME NAME ARGS...: one instance with its own preferences, its
# device called NAME.
app() {
	local home=$1 name=$2
	shift 2
	mkdir -p "$home/.cache" "$home/Downloads" "$home/run" "$home/.config/fyne/io.github.epicshare"
	printf '{"device.name":"%s"}' "$name" >"$home/.config/fyne/io.github.epicshare/preferences.json"
	chmod 700 "$home/run"
	ip netns exec "$ns" env HOME="$home" XDG_RUNTIME_DIR="$home/run" DISPLAY="$display" "$bin" "$@" >"$home/log" 2>&1 &
	pids+=($!)
	echo $!
}
window() { # the window of a process
	for _ in $(seq 100); do
		w=$(xdotool search --onlyvisible --pid "$1" 2>/dev/null | head -1) && [ -n "$w" ] && { echo "$w"; return; }
		sleep 0.1
	done
	echo "no window for pid $1" >&2
	return 1
}
click() { xdotool mousemove --window "$1" "$2" "$3" click 1; sleep "${4:-0.5}"; }
shot() { import -window "$1" "$out/$2"; echo "wrote $out/$2"; }

mkdir -p "$out"
sender=$(app "$work/a" "Studio desktop" "$work/src/Holiday 2026" "$work/src/itinerary.pdf")
sw=$(window "$sender")
xdotool windowmove "$sw" 0 0
sleep 1.5
shot "$sw" send-pick.png
click "$sw" 715 598 3 # Share
shot "$sw" send-share.png
link=$(zbarimg --quiet --raw "$out/send-share.png" | head -1)
[ -n "$link" ] || { echo "no QR code on the send screen" >&2; exit 1; }
echo "link from the QR code: $link"

receiver=$(app "$work/b" "Office laptop")
rw=$(window "$receiver")
xdotool windowmove "$rw" 800 0
sleep 1.5
click "$rw" 92 21 1.5         # Receive tab
shot "$rw" receive-link.png
inbox=$(zbarimg --quiet --raw "$out/receive-link.png" | head -1)
case "$inbox" in */r/*) echo "receive link from the QR code: $inbox" ;; *) echo "no receive link on the Receive tab" >&2; exit 1 ;; esac
click "$rw" 330 411           # the link field
xdotool type --delay 2 "$link"
xdotool key Return
sleep 4
shot "$rw" receive-offer.png
click "$rw" 53 391 0.8 # Accept (the offer scrolled into view)
shot "$sw" send-progress.png
for _ in $(seq 60); do # until the receiver saved everything
	[ -f "$work/b/Downloads/Holiday 2026/videos/waves.mp4" ] && [ -f "$work/b/Downloads/itinerary.pdf" ] && break
	sleep 0.5
done
sleep 1
shot "$rw" receive-done.png
shot "$sw" send-done.png
cmp "$work/src/Holiday 2026/videos/waves.mp4" "$work/b/Downloads/Holiday 2026/videos/waves.mp4"
click "$rw" 165 21 # History tab: the receive just made
shot "$rw" history.png
click "$rw" 240 21 # Settings tab
shot "$rw" settings.png

# Another computer's offer into the receive link, as the terminal makes
# it (it proves its device, so the row names it).
click "$rw" 92 21 1 # Receive tab
ip netns exec "$ns" env HOME="$work/c" "$bin" send --name "Anna's laptop" --interface v0 --text "Boarding pass and the photos. Gate B12, see https://example.org/checkin" \
	"$inbox" "$work/src/Holiday 2026/photos" "$work/src/itinerary.pdf" >"$work/push.log" 2>&1 &
pids+=($!)
sleep 3
shot "$rw" receive-incoming.png

# Nearby devices: a third window, with a file picked, lists the other two.
third=$(app "$work/c3" "Kitchen tablet" "$work/src/itinerary.pdf")
tw=$(window "$third")
xdotool windowmove "$tw" 0 0
sleep 6 # a few rounds of looking
shot "$tw" send-nearby.png
click "$tw" 200 496 3 # "Office laptop": it is asked, naming this device
shot "$tw" send-nearby-waiting.png

# The browser receiver page, phone-sized, from the Chromium end-to-end test
# (it makes its own namespace).
EPICSHARE_PAGE_SHOTS="$PWD/$out" go test -count=1 -run 'TestBrowserPages/chromium/^(insecure-origin|send-insecure)$' ./internal/e2e
echo "wrote $out/browser-offer.png $out/browser-done.png $out/phone-send-*.png"
