-- engage ACD operations: enqueue, transfers (cold and warm), agent presence, and the sweep
-- that fires every timer (offers, consults, wrap-ups, heartbeats, grace periods, max waits).

local function enqueue(ix, q, channel, priority, customer, visitor, site, context, front)
  local cfg = hgetall(key('q', q))
  if cfg.strategy == nil then return fail('unknown_queue') end
  if ix == '' then ix = string.format('ix%010d', redis.call('INCR', key('ixseq'))) end
  if redis.call('EXISTS', ixkey(ix)) == 1 then return fail('duplicate_interaction') end
  if CAP.limits[channel] == nil then return fail('unknown_channel') end
  if redis.call('ZCARD', key('q', q, 'waiting')) >= tonumber(cfg.max_length) then
    return fail('queue_full', {exit = cfg.exit})
  end
  local prio = tonumber(priority ~= '' and priority or cfg.priority or '0')
  -- Aging: ``aging`` seconds of waiting are worth one priority level. Ordering by effective
  -- priority (priority + waited / aging) equals ordering by this static score, so the waiting
  -- zsets never need re-scoring as time passes; FRONT_BONUS puts requeued work first.
  local order = NOW - prio * tonumber(cfg.aging) * 1000
  local sticky = ''
  if customer ~= '' then sticky = redis.call('GET', key('sticky', customer)) or '' end
  local h = {state = 'new', queue = q, channel = channel, customer = customer}
  redis.call('HSET', ixkey(ix), 'id', ix, 'state', 'new', 'queue', q, 'channel', channel,
    'priority', prio, 'order', order, 'enqueued_ms', NOW, 'queue_since_ms', NOW,
    'created_ms', NOW, 'customer', customer, 'visitor', visitor, 'site', site,
    'context', context, 'sticky', sticky, 'declined', '')
  h.order, h.enqueued_ms = order, NOW
  set_ix_state(ix, h, 'queued', 'enqueued', 'customer')
  waiting_add(ix, h, front == '1')
  local rank = redis.call('ZRANK', key('q', q, 'waiting'), ix)
  -- Route in the same call: a free agent gets the offer without another round trip.
  local offered = route_once(q)
  ROUTE[q] = (offered ~= nil) or nil
  return result({ok = true, interaction = ix, position = rank + 1,
    state = redis.call('HGET', ixkey(ix), 'state')})
end

local function transfer_queue(ix, a, target)
  local h, refused = held_by(ix, a, 'connected')
  if not h then return refused end
  if (h.consult or '') ~= '' then return fail('consult_in_progress') end
  local tcfg = hgetall(key('q', target))
  if tcfg.strategy == nil then return fail('unknown_queue') end
  add_load(a, h.channel, -1)
  redis.call('SREM', key('agent', a, 'ix'), ix)
  refresh_agent(a)
  set_ix_state(ix, h, 'transferred', 'cold_to_queue:' .. target, a)
  notify('agent', a, 'transferred', {interaction = ix, to_queue = target})
  -- The customer has waited already: ahead of new arrivals in the target queue.
  h.queue = target
  h.order = NOW - tonumber(h.priority or '0') * tonumber(tcfg.aging) * 1000
  redis.call('HSET', ixkey(ix), 'queue', target, 'order', h.order, 'queue_since_ms', NOW,
    'transferred_from', a)
  add_declined(ix, h, a)
  requeue(ix, h, 'transfer', a, true)
  return result({ok = true})
end

local function transfer_agent(ix, a, target)
  local h, refused = held_by(ix, a, 'connected')
  if not h then return refused end
  if (h.consult or '') ~= '' then return fail('consult_in_progress') end
  if target == a then return fail('same_agent') end
  local tg = hgetall(agkey(target))
  if not routable(tg) or not can_take(tg, h.channel) then return fail('agent_unavailable') end
  add_load(a, h.channel, -1)
  redis.call('SREM', key('agent', a, 'ix'), ix)
  refresh_agent(a)
  set_ix_state(ix, h, 'transferred', 'cold_to_agent:' .. target, a)
  notify('agent', a, 'transferred', {interaction = ix, to_agent = target})
  redis.call('HSET', ixkey(ix), 'transferred_from', a)
  add_declined(ix, h, a)
  offer_to(ix, h, {target}, {offer_timeout = hgetall(key('q', h.queue)).offer_timeout,
    strategy = 'direct'})
  return result({ok = true})
end

local function consult(ix, a, target)
  local h, refused = held_by(ix, a, 'connected')
  if not h then return refused end
  if (h.consult or '') ~= '' then return fail('consult_in_progress') end
  if target == a then return fail('same_agent') end
  local tg = hgetall(agkey(target))
  if not routable(tg) or not can_take(tg, h.channel) then return fail('agent_unavailable') end
  local cfg = hgetall(key('q', h.queue))
  local deadline = NOW + tonumber(cfg.offer_timeout or '20') * 1000
  add_load(target, h.channel, 1)
  redis.call('SADD', key('agent', target, 'ix'), ix)
  redis.call('HSET', ixkey(ix), 'consult', target, 'consult_state', 'offered')
  redis.call('ZADD', key('consults'), deadline, ix)
  refresh_agent(target)
  log_ix(ix, h, 'connected', 'connected', 'consult_offered:' .. target, a)
  notify('agent', target, 'consult_offer', {interaction = ix, from_agent = a,
    customer = h.customer or '',
    channel = h.channel, queue = h.queue, deadline_ms = deadline, context = h.context or '{}'})
  return result({ok = true})
end

local function consult_accept(ix, target)
  local h = hgetall(ixkey(ix))
  if h.state ~= 'connected' or h.consult ~= target or h.consult_state ~= 'offered' then
    return fail('offer_gone')
  end
  redis.call('HSET', ixkey(ix), 'consult_state', 'accepted')
  redis.call('ZREM', key('consults'), ix)
  log_ix(ix, h, 'connected', 'connected', 'consult_accepted:' .. target, target)
  notify('agent', h.agent, 'consult_accepted', {interaction = ix, agent = target})
  return result({ok = true})
end

-- ``internal`` (the sweep, an agent gone) is a flag only this script sets, never a name: a
-- staff account called "system" is just another agent here.
local function consult_end(ix, by, complete_it, internal)
  local h = hgetall(ixkey(ix))
  local target = h.consult or ''
  if h.state ~= 'connected' or target == '' then return fail('no_consult') end
  if not internal and by ~= h.agent and by ~= target then return fail('not_your_interaction') end
  -- Checked before any write: a refused completion must leave the consultation as it was.
  if complete_it and h.consult_state ~= 'accepted' then return fail('consult_not_accepted') end
  if complete_it then
    redis.call('HDEL', ixkey(ix), 'consult', 'consult_state')
    redis.call('ZREM', key('consults'), ix)
    local previous = h.agent
    add_load(previous, h.channel, -1)
    redis.call('SREM', key('agent', previous, 'ix'), ix)
    refresh_agent(previous)
    h.agent = target
    redis.call('HSET', ixkey(ix), 'agent', target, 'transferred_from', previous)
    set_ix_state(ix, h, 'connected', 'warm_transfer', previous)
    notify('agent', previous, 'transferred', {interaction = ix, to_agent = target})
    notify('agent', target, 'transfer_completed', {interaction = ix, from_agent = previous})
    notify('ix', ix, 'connected', {agent = target})
  else
    release_consult(ix, h, by)
  end
  return result({ok = true})
end

-- Presence --------------------------------------------------------------------------------
local function agent_online(a, queues, node)
  local ag = hgetall(agkey(a))
  redis.call('HSET', agkey(a), 'queues', queues, 'node', node, 'connected', '1')
  redis.call('ZREM', key('grace'), a)
  redis.call('ZADD', key('heartbeat'), NOW, a)
  if ag.state == nil or ag.state == 'offline' then
    if ag.state == nil then redis.call('HSET', agkey(a), 'idle_since_ms', NOW) end
    ag.state = ag.state or 'offline'
    set_agent_state(a, ag, 'away', 'not_ready')
  end
  -- Queues it no longer serves must not keep it ready.
  for _, q in ipairs(split(ag.queues)) do
    for ch, _ in pairs(CAP.limits) do redis.call('ZREM', key('q', q, 'ready', ch), a) end
    redis.call('SREM', key('q', q, 'staffed'), a)
  end
  for _, q in ipairs(split(queues)) do redis.call('SADD', key('q', q, 'staffed'), a) end
  refresh_agent(a)
  return result({ok = true, state = redis.call('HGET', agkey(a), 'state')})
end

local function agent_set_state(a, state, reason)
  local ag = hgetall(agkey(a))
  if ag.state == nil then return fail('not_signed_in') end
  if ag.state == 'wrap_up' and state == 'available' then return fail('finish_wrap_up') end
  if state == 'offline' and redis.call('SCARD', key('agent', a, 'ix')) > 0 then
    return fail('has_active_interactions')
  end
  if state == 'available' then
    redis.call('HSET', agkey(a), 'misses', 0)
    if ag.state ~= 'available' and ag.state ~= 'busy' then
      redis.call('HSET', agkey(a), 'idle_since_ms', NOW)
    end
  end
  set_agent_state(a, ag, state, reason)
  for _, q in ipairs(split(ag.queues)) do
    if state == 'offline' then
      redis.call('SREM', key('q', q, 'staffed'), a)
    else
      redis.call('SADD', key('q', q, 'staffed'), a)
    end
  end
  refresh_agent(a)
  return result({ok = true, state = redis.call('HGET', agkey(a), 'state')})
end

local function agent_disconnected(a, grace_ms)
  redis.call('HSET', agkey(a), 'connected', '0')
  if redis.call('ZSCORE', key('grace'), a) == false then
    redis.call('ZADD', key('grace'), NOW + grace_ms, a)
  end
  refresh_agent(a)
  return result({ok = true})
end

-- Past the grace period: its work goes back to the front of the queue, the customer is told.
local function agent_gone(a)
  local ag = hgetall(agkey(a))
  if ag.state == nil or ag.connected == '1' then return end
  for _, ix in ipairs(redis.call('SMEMBERS', key('agent', a, 'ix'))) do
    local h = hgetall(ixkey(ix))
    if h.state == 'offered' then
      release(ix, a, 'agent_gone')
    elseif h.state == 'connected' and h.agent == a then
      add_load(a, h.channel, -1)
      redis.call('SREM', key('agent', a, 'ix'), ix)
      notify('ix', ix, 'agent_lost', {})
      requeue(ix, h, 'agent_gone', a, true)
    elseif h.state == 'connected' and h.consult == a then
      consult_end(ix, 'system', false, true)
    elseif h.state == 'wrap_up' then
      finish_wrap(ix, h, '', 'agent_gone', 'system')
    end
  end
  ag = hgetall(agkey(a))
  set_agent_state(a, ag, 'offline', 'disconnected')
  for _, q in ipairs(split(ag.queues)) do redis.call('SREM', key('q', q, 'staffed'), a) end
  redis.call('ZREM', key('heartbeat'), a)
  refresh_agent(a)
end

local function max_wait_exit(ix, h)
  local cfg = hgetall(key('q', h.queue))
  local exit = cfg.exit or 'none'
  if string.sub(exit, 1, 9) == 'overflow:' then
    local target = string.sub(exit, 10)
    local tcfg = hgetall(key('q', target))
    if tcfg.strategy ~= nil then
      waiting_remove(ix, h)
      local from = h.queue
      h.queue = target
      h.order = tonumber(h.enqueued_ms) - tonumber(h.priority or '0') * tonumber(tcfg.aging) * 1000
      redis.call('HSET', ixkey(ix), 'queue', target, 'order', h.order, 'queue_since_ms', NOW)
      set_ix_state(ix, h, 'queued', 'overflow:' .. from, 'system')
      waiting_add(ix, h, false)
      redis.call('ZADD', key('q', target, 'since'), NOW, ix)
      notify('ix', ix, 'queue_status', {state = 'queued', reason = 'overflow', queue = target})
      return
    end
    exit = 'callback'
  end
  if exit == 'none' then return end
  waiting_remove(ix, h)
  redis.call('HSET', ixkey(ix), 'exit', exit, 'ended_ms', NOW)
  set_ix_state(ix, h, 'timed_out', 'max_wait:' .. exit, 'system')
  notify('ix', ix, 'timed_out', {exit = exit})
  redis.call('EXPIRE', ixkey(ix), 86400)
end

local function sweep(heartbeat_ms)
  local fired = 0
  for _, ix in ipairs(redis.call('ZRANGEBYSCORE', key('offers'), '-inf', NOW, 'LIMIT', 0, 200)) do
    redis.call('ZREM', key('offers'), ix)
    release(ix, '', 'timeout')
    fired = fired + 1
  end
  for _, ix in ipairs(redis.call('ZRANGEBYSCORE', key('consults'), '-inf', NOW, 'LIMIT', 0, 200)) do
    consult_end(ix, 'system', false, true)
    fired = fired + 1
  end
  for _, ix in ipairs(redis.call('ZRANGEBYSCORE', key('wrapups'), '-inf', NOW, 'LIMIT', 0, 200)) do
    local h = hgetall(ixkey(ix))
    redis.call('ZREM', key('wrapups'), ix)
    if h.state == 'wrap_up' then finish_wrap(ix, h, '', 'wrap_up_timeout', 'system') end
    fired = fired + 1
  end
  local stale = redis.call('ZRANGEBYSCORE', key('heartbeat'), '-inf', NOW - heartbeat_ms,
    'LIMIT', 0, 200)
  for _, a in ipairs(stale) do
    redis.call('ZREM', key('heartbeat'), a)
    if redis.call('HGET', agkey(a), 'connected') == '1' then
      agent_disconnected(a, 0)
    end
    fired = fired + 1
  end
  for _, a in ipairs(redis.call('ZRANGEBYSCORE', key('grace'), '-inf', NOW, 'LIMIT', 0, 200)) do
    redis.call('ZREM', key('grace'), a)
    agent_gone(a)
    fired = fired + 1
  end
  for _, q in ipairs(redis.call('SMEMBERS', key('queues'))) do
    local cfg = hgetall(key('q', q))
    if (cfg.exit or 'none') ~= 'none' then
      local cutoff = NOW - tonumber(cfg.max_wait) * 1000
      for _, ix in ipairs(redis.call('ZRANGEBYSCORE', key('q', q, 'since'), '-inf', cutoff,
          'LIMIT', 0, 200)) do
        local h = hgetall(ixkey(ix))
        if h.state == 'queued' and h.queue == q then max_wait_exit(ix, h) end
        fired = fired + 1
      end
    end
  end
  return result({ok = true, fired = fired})
end
