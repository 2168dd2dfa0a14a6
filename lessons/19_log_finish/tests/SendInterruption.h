#pragma once

// Makes the program's next send() fail with EINTR, as if a signal had interrupted it, which a
// test cannot otherwise arrange for a non-blocking socket. (SendInterruption.cpp defines send()
// in the test program, in front of the C library's.)
void interruptNextSend();
