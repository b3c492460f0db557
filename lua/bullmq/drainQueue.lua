-- drainQueue: every job not yet taken (wait, paused, prioritized and, if
-- asked, delayed) removed without a trace, as Node's queue.drain(delayed);
-- pending job-scheduler iterations stay (docs/bullmq.md "Admin operations").
-- @key wait             queue
-- @key paused           queue
-- @key delayed          queue
-- @key prioritized      queue
-- @arg prefix           base
-- @arg delayed          int     1 = delayed jobs too
-- Reply: number of jobs removed
--@include core
--@include admin

local base = ARGV[1]
local n = dropAllIn(KEYS[1], true, base, true) + dropAllIn(KEYS[2], true, base, true)
if ARGV[2] == "1" then n = n + dropAllIn(KEYS[3], false, base, true) end
return n + dropAllIn(KEYS[4], false, base, true)
