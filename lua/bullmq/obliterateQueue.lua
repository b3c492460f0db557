-- obliterateQueue: a paused queue's jobs and keys all deleted, as Node's
-- queue.obliterate() after its pause (docs/bullmq.md "Admin operations").
-- As in Node, waiting-children jobs, the limiter and deduplication keys of
-- jobs no longer present are left.
-- @key meta             queue
-- @key active           queue
-- @arg prefix           base
-- @arg force            int     1 = even with active jobs
-- Reply: 0 | -1 not paused | -2 active jobs (without force)
--@include core
--@include admin

local base = ARGV[1]
if rcall("HEXISTS", KEYS[1], "paused") ~= 1 then return -1 end
local active = rcall("LRANGE", KEYS[2], 0, -1)
if #active > 0 and ARGV[2] ~= "1" then return -2 end
for _, id in ipairs(active) do rcall("DEL", base .. id .. ":lock") end
for _, id in ipairs(active) do dropJobQuietly(base, id) end
rcall("LTRIM", KEYS[2], #active, -1)
dropAllIn(base .. "delayed", false, base, false)
local schedulers = rcall("ZRANGE", base .. "repeat", 0, -1)
for _, id in ipairs(schedulers) do rcall("DEL", base .. "repeat:" .. id) end
eachChunk(#schedulers, 7000, function(a, b)
  rcall("ZREM", base .. "repeat", unpack(schedulers, a, b))
end)
dropAllIn(base .. "completed", false, base, false)
dropAllIn(base .. "wait", true, base, false)
dropAllIn(base .. "paused", true, base, false)
dropAllIn(base .. "prioritized", false, base, false)
dropAllIn(base .. "failed", false, base, false)
rcall("DEL", base .. "events", base .. "delay", base .. "stalled-check", base .. "stalled",
  base .. "id", base .. "pc", base .. "marker", KEYS[1], base .. "metrics:completed",
  base .. "metrics:completed:data", base .. "metrics:failed", base .. "metrics:failed:data")
return 0
