-- pauseQueue: global pause or resume of a Bull queue, as Node Bull's queue.pause() and
-- queue.resume() (docs/bull.md §6): the ready list is renamed (wait -> paused to pause, back
-- to resume; a list already at the target name is replaced, as RENAME does), meta-paused set
-- or deleted, meta's `paused` field (BullMQ's flag, which Bull keeps too) set or deleted, and
-- "paused" published on K:paused or "resumed" on K:resumed.
-- @key wait             queue
-- @key paused           queue
-- @key metaPaused       queue:meta-paused
-- @key meta             queue
-- @key resumed          queue   the resume channel
-- @arg pause            int     1 pause, 0 resume
-- Reply: 0
local from, to = KEYS[1], KEYS[2]
if ARGV[1] ~= "1" then
  from, to = KEYS[2], KEYS[1]
end
if redis.call("EXISTS", from) == 1 then
  redis.call("RENAME", from, to)
end
if ARGV[1] == "1" then
  redis.call("SET", KEYS[3], 1)
  redis.call("HSET", KEYS[4], "paused", 1)
  redis.call("PUBLISH", KEYS[2], "paused")
else
  redis.call("DEL", KEYS[3])
  redis.call("HDEL", KEYS[4], "paused")
  redis.call("PUBLISH", KEYS[5], "resumed")
end
return 0
