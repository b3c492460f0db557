-- dedup: releasing a deduplication window when its owner finishes.
--@include core

-- DEL <P>de:<id> when it has no TTL and still names this job (or its TTL is
-- exactly 0).
-- TODO(keepLastIfActive): when <P>dn:<id> exists, upstream now creates the
-- stored "next" job (new id from INCR id, de key re-pointed, added/waiting
-- events, parent link). Not implemented yet: such a dn: hash is left in place.
local function releaseDedupOnFinish(prefix, dedupId, jobId)
  if not dedupId then return end
  local key = prefix .. "de:" .. dedupId
  local ttl = rcall("PTTL", key)
  if ttl == 0 then
    rcall("DEL", key)
  elseif ttl == -1 and rcall("GET", key) == jobId then
    rcall("DEL", key)
  end
end
