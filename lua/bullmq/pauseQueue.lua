-- pauseQueue: global pause or resume of a queue, as Node's queue.pause() and
-- queue.resume() (docs/bullmq.md "Admin operations").
-- @key meta             queue
-- @key wait             queue
-- @key paused           queue
-- @key prioritized      queue
-- @key delayed          queue
-- @key marker           queue
-- @key events           queue
-- @arg pause            int     1 pause, 0 resume
-- Reply: 0
--@include core
--@include enqueue

if ARGV[1] == "1" then
  rcall("HSET", KEYS[1], "paused", 1)
  rcall("DEL", KEYS[6])
  rcall("XADD", KEYS[7], "*", "event", "paused")
  return 0
end
rcall("HDEL", KEYS[1], "paused")
-- a 5.x pause parked the backlog in `paused`: it goes after what wait holds
while rcall("EXISTS", KEYS[3]) == 1 do
  if rcall("EXISTS", KEYS[2]) == 0 then
    rcall("RENAME", KEYS[3], KEYS[2])
  else
    local ids = rcall("LRANGE", KEYS[3], 0, 6999)
    rcall("RPUSH", KEYS[2], unpack(ids))
    rcall("LTRIM", KEYS[3], #ids, -1)
  end
end
if rcall("LLEN", KEYS[2]) + rcall("ZCARD", KEYS[4]) > 0 then
  rcall("ZADD", KEYS[6], 0, "0")
else
  refreshDelayMarker(KEYS[6], KEYS[5])
end
rcall("XADD", KEYS[7], "*", "event", "resumed")
return 0
