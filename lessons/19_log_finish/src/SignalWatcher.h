#pragma once

// Turns signals into events of the loop. The signals are blocked, so the kernel keeps them pending
// (at most one of each) instead of interrupting the program, and a signalfd makes them readable:
// the callback then runs in the loop like any other handler, where it may do anything (a signal
// handler may do almost nothing: no printf, no malloc, no locks).
//
// Create it before starting any thread: threads inherit the blocked mask, and a signal that one of
// them has not blocked would be delivered to it instead of to the signalfd. The signals stay
// blocked after the watcher is gone, so that a second Ctrl-C cannot kill a server half-way through
// its shutdown.

#include <signal.h>

#include <functional>
#include <initializer_list>
#include <string>

#include "Channel.h"
#include "FileDescriptor.h"
#include "noncopyable.h"

class EventLoop;

class SignalWatcher : noncopyable {
 public:
  using SignalCallback = std::function<void(int signo)>;

  // Throws std::system_error if the signalfd cannot be created or watched.
  SignalWatcher(EventLoop* loop, std::initializer_list<int> signals, SignalCallback callback);

  // The signal's description, as strsignal() gives it ("Terminated"), for the signals a server
  // watches. strsignal() itself may format into a buffer shared between threads.
  static std::string describe(int signo);

 private:
  void handleRead();

  // In this order: the Channel leaves the poller before the fd is closed.
  FileDescriptor fd_;
  Channel channel_;
  SignalCallback callback_;
};
