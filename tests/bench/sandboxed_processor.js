'use strict';
// The no-op processor of isolate.js's Node side, given to BullMQ's Worker as a file path so
// that BullMQ runs it sandboxed, in child processes (its counterpart of echo_worker --isolate).
module.exports = async () => {};
