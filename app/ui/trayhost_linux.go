package ui

import "github.com/godbus/dbus/v5"

// TrayAvailable reports whether the desktop shows tray icons: on Linux,
// whether a StatusNotifierWatcher owns its name on the session
// bus (GNOME without an extension, bare window managers and headless
// sessions have none, and Fyne's tray icon would then be invisible).
func TrayAvailable() bool {
	conn, err := dbus.ConnectSessionBus()
	if err != nil {
		return false
	}
	defer conn.Close()
	var has bool
	err = conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, "org.kde.StatusNotifierWatcher").Store(&has)
	return err == nil && has
}
