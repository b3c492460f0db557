-- getCounts: job counts per state in one call, as Node's queue.getJobCounts()
-- (docs/bullmq.md §4.19; read-only: a legacy "0:<n>" marker at the head of wait
-- is not counted, where Node also pops it).
-- @key wait             queue
-- @key paused           queue
-- @key active           queue
-- @key completed        queue
-- @key failed           queue
-- @key delayed          queue
-- @key prioritized      queue
-- @key waitingChildren  queue:waiting-children
-- Reply: [waiting, paused, active, completed, failed, delayed, prioritized,
--         waiting-children]
--@include core

local function listCount(key)
  local n = rcall("LLEN", key)
  local head = rcall("LINDEX", key, -1)
  if head and isLegacyMarkerId(head) then n = n - 1 end
  return n
end

return {
  listCount(KEYS[1]), listCount(KEYS[2]), rcall("LLEN", KEYS[3]),
  rcall("ZCARD", KEYS[4]), rcall("ZCARD", KEYS[5]), rcall("ZCARD", KEYS[6]),
  rcall("ZCARD", KEYS[7]), rcall("ZCARD", KEYS[8]),
}
