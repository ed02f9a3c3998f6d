package ui

import "github.com/godbus/dbus/v5"

// TrayAvailable reports whether the desktop shows tray icons: on Linux,
// whether a StatusNotifierWatcher owns its name on the session
// bus (GNOME without an extension, bare window managers and headless
// sessions have none, and Fyne's tray icon would then be invisible).
func TrayAvailable() bool {
	// NoAutoStartup: without a session bus there is no tray either, and
	// asking must not launch one (godbus would run dbus-launch).
	conn, err := dbus.SessionBusPrivateNoAutoStartup()
	if err != nil {
		return false
	}
	defer conn.Close()
	if err := conn.Auth(nil); err != nil {
		return false
	}
	if err := conn.Hello(); err != nil {
		return false
	}
	var has bool
	err = conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, "org.kde.StatusNotifierWatcher").Store(&has)
	return err == nil && has
}
