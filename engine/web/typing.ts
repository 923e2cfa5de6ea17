/// <reference lib="dom" />
// The typing indicator a person's keystrokes send, the same in the widget and the console: "on" at
// the first keystroke, "off" after 3 s without one, on send and on blur; one "on" until its "off".
const IDLE_MS = 3000

/** `send(on)` tells the conversation shown (it does nothing when there is none). */
export function createTypingOut(send: (on: boolean) => void) {
  let sent = false
  let idle: ReturnType<typeof setTimeout> | undefined
  function stop(): void {
    clearTimeout(idle)
    if (sent) send(false)
    sent = false
  }
  function input(): void {
    if (!sent) {
      sent = true
      send(true)
    }
    clearTimeout(idle)
    idle = setTimeout(stop, IDLE_MS)
  }
  return { input, stop }
}
