# cmake -DVNET_QEMU=.. -DVNET_GUEST=.. -DVNET_REPLAY=.. -DOUT=trace.jsonl
#       "-DARGS=-M;q35;-t;modern;..." -P record_replay.cmake
#
# Records a fresh run of the guest on QEMU (vnet-qemu --record: record=1,
# the trace streamed over COM2) and replays it on the host with
# vnet-replay, which must say PASS. The trace's header must say where it
# was recorded. With -DIRQ=msix|intx the guest ran interrupt-driven: the
# trace must arm that mode and hold handle_interrupt calls (from a vector,
# or from the line). With -DRING=packed the guest ran packed rings (issue
# 14): the trace's attach must accept them and the driver's fetches of used
# descriptors (packed_desc: 2 bytes of flags, then 6 of len and id) and of
# the device event structure (device_event, 4 bytes) must be in it.
#
# Issue 15: with -DCTRL=on the guest ran its control plane (-g ctrl=1): the
# trace's attach must accept CTRL_VQ, and with -DCTRL_CALLS=on hold control
# calls (set_rx_mode, set_mac_filter, set_mac_address, add_vlan,
# remove_vlan, set_queue_pairs, set_rss) with their results. -DPAIRS=N: rx
# bursts on pair N-1 too.
#
# Issue 16: with -DOFFLOADS=options the guest asked for offloads (-g tso=1
# or csum=1) and the trace's attach must carry the options (accept_tx_csum,
# accept_rx_csum; with tso, accept_tso, accept_rx_gso and rx_chains), even
# where nothing was offered (user networking). -DOFFLOADS=csum: besides,
# tx bursts ask for checksum offload ("offload" with "csum":"partial") and
# rx bursts delivered frames with a checksum result ("delivered" with
# "csum"). -DOFFLOADS=tso: besides, a tx request with "gso":"tcp4", a
# delivered frame with a GSO result, and a delivered receive chain (a
# "bufs" list of two or more buffers).
# --net tap runs exit 77 without root: then the test prints "SKIPPED"
# (SKIP_REGULAR_EXPRESSION) and stops.
file(REMOVE ${OUT})
execute_process(COMMAND ${VNET_QEMU} --kernel ${VNET_GUEST} -q --record ${OUT} ${ARGS}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 180)
if(rc EQUAL 77)
  message("SKIPPED: ${err}")
  return()
endif()
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "vnet-qemu --record failed (${rc}):\n${out}\n${err}")
endif()
file(READ ${OUT} text LIMIT 4096)
string(REGEX MATCH "^[^\n]*" header "${text}")
foreach(want "\"format\":\"vnetkit-trace\"" "\"where\":\"qemu\"" "\"machine\":" "\"transport\":"
             "\"device_props\":" "\"when\":\"20")
  string(FIND "${header}" "${want}" at)
  if(at LESS 0)
    message(FATAL_ERROR "header lacks ${want}: ${header}")
  endif()
endforeach()
if(DEFINED IRQ)
  file(STRINGS ${OUT} armed REGEX "\"ev\":\"arm_interrupts\",\"mode\":\"${IRQ}\"")
  if(IRQ STREQUAL "msix")
    set(src "vector")
  else()
    set(src "line")
  endif()
  file(STRINGS ${OUT} irqs REGEX "\"fn\":\"handle_interrupt\",\"src\":\"${src}\"")
  list(LENGTH irqs n)
  if(NOT armed OR n EQUAL 0)
    message(FATAL_ERROR "the trace has no ${IRQ} interrupts (arm_interrupts ${IRQ}: '${armed}', "
                        "handle_interrupt from the ${src}: ${n})")
  endif()
  message(STATUS "${n} interrupts (${src}) in the trace")
endif()
if(DEFINED RING AND RING STREQUAL "packed")
  file(STRINGS ${OUT} accepted REGEX "\"fn\":\"attach\".*\"accept_ring_packed\":true")
  file(STRINGS ${OUT} flags
       REGEX "\"part\":\"packed_desc\",\"idx\":[0-9]+,(\"recheck\":true,)?\"data\":\"[0-9a-f][0-9a-f][0-9a-f][0-9a-f]\"")
  file(STRINGS ${OUT} used
       REGEX "\"part\":\"packed_desc\",\"idx\":[0-9]+,\"data\":\"[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]\"")
  file(STRINGS ${OUT} events
       REGEX "\"part\":\"device_event\",\"idx\":0,\"data\":\"[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]\"")
  list(LENGTH flags n_flags)
  list(LENGTH used n_used)
  list(LENGTH events n_events)
  if(NOT accepted OR n_flags EQUAL 0 OR n_used EQUAL 0 OR n_events EQUAL 0)
    message(FATAL_ERROR "the trace is not a packed-ring run (attach accept_ring_packed: "
                        "'${accepted}', packed_desc flag fetches ${n_flags}, len/id fetches "
                        "${n_used}, device_event fetches ${n_events})")
  endif()
  message(STATUS "packed ring: ${n_flags} flag fetches, ${n_used} len/id fetches, "
                 "${n_events} device event fetches")
endif()
# With -DINDIRECT=on the guest's driver used indirect descriptors on tx
# (issue 14): the attach accepts them, tx bursts carry fragment lengths
# ("frags") and publish lines indirect chains ("indirect":true) with their
# table named by DMA region. -DMIN_SEGS=N: some indirect chain has N or
# more table entries.
if(DEFINED INDIRECT AND INDIRECT STREQUAL "on")
  file(STRINGS ${OUT} accepted REGEX "\"fn\":\"attach\".*\"accept_indirect_desc\":true")
  file(STRINGS ${OUT} fragged REGEX "\"fn\":\"tx_burst\".*\"frags\":\\[\\[[0-9]")
  file(STRINGS ${OUT} chains REGEX "\"ev\":\"publish\".*\"indirect\":true,\"table\":{\"dma\":[0-9]+,\"off\":[0-9]+}")
  list(LENGTH fragged n_fragged)
  list(LENGTH chains n_chains)
  if(NOT accepted OR n_fragged EQUAL 0 OR n_chains EQUAL 0)
    message(FATAL_ERROR "the trace has no indirect chains on tx (attach accept_indirect_desc: "
                        "'${accepted}', tx bursts with frags ${n_fragged}, indirect publish lines "
                        "${n_chains})")
  endif()
  set(longest 0)
  foreach(line IN LISTS chains)
    string(REGEX MATCHALL "\"desc\":" segs "${line}")
    list(LENGTH segs n)
    if(n GREATER longest)
      set(longest ${n})
    endif()
  endforeach()
  if(DEFINED MIN_SEGS AND longest LESS MIN_SEGS)
    message(FATAL_ERROR "the longest indirect chain has ${longest} entries, expected ${MIN_SEGS}+")
  endif()
  message(STATUS "indirect: ${n_chains} indirect chains (up to ${longest} entries), "
                 "${n_fragged} tx bursts with fragments")
endif()
if(DEFINED CTRL AND CTRL STREQUAL "on")
  file(STRINGS ${OUT} accepted REGEX "\"fn\":\"attach\".*\"accept_ctrl_vq\":true")
  file(STRINGS ${OUT} calls
       REGEX "\"ev\":\"call\",\"fn\":\"(set_rx_mode|set_mac_filter|set_mac_address|add_vlan|remove_vlan|set_queue_pairs|set_rss)\"")
  list(LENGTH calls n_calls)
  if(NOT accepted OR (n_calls EQUAL 0 AND DEFINED CTRL_CALLS))
    message(FATAL_ERROR "the trace has no control plane (attach accept_ctrl_vq: '${accepted}', "
                        "control calls ${n_calls})")
  endif()
  message(STATUS "control plane: ${n_calls} control calls")
endif()
if(DEFINED PAIRS)
  math(EXPR last "${PAIRS} - 1")
  file(STRINGS ${OUT} bursts REGEX "\"fn\":\"rx_burst\",\"max\":[0-9]+,\"pair\":${last}}")
  list(LENGTH bursts n_bursts)
  if(n_bursts EQUAL 0)
    message(FATAL_ERROR "the trace has no rx burst on pair ${last}")
  endif()
  message(STATUS "multiqueue: ${n_bursts} rx bursts on pair ${last}")
endif()
if(DEFINED OFFLOADS)
  set(want_options "\"accept_tx_csum\":true" "\"accept_rx_csum\":true")
  if(OFFLOADS STREQUAL "tso")
    list(APPEND want_options "\"accept_tso\":true" "\"accept_rx_gso\":true"
         "\"rx_chains\":true")
  endif()
  file(STRINGS ${OUT} attach REGEX "\"ev\":\"call\",\"fn\":\"attach\"")
  foreach(want IN LISTS want_options)
    string(FIND "${attach}" "${want}" at)
    if(at LESS 0)
      message(FATAL_ERROR "the trace's attach lacks ${want}: ${attach}")
    endif()
  endforeach()
  file(STRINGS ${OUT} csum_requests
       REGEX "\"fn\":\"tx_burst\".*\"offload\":\\[.*\"csum\":\"partial\"")
  file(STRINGS ${OUT} gso_requests
       REGEX "\"fn\":\"tx_burst\".*\"offload\":\\[.*\"gso\":\"tcp4\"")
  file(STRINGS ${OUT} csum_results REGEX "\"fn\":\"rx_burst\".*\"delivered\":.*\"csum\":")
  file(STRINGS ${OUT} gso_results REGEX "\"fn\":\"rx_burst\".*\"delivered\":.*\"gso\":")
  file(STRINGS ${OUT} chains
       REGEX "\"fn\":\"rx_burst\".*\"delivered\":.*\"bufs\":\\[[0-9]+,[0-9]+")
  list(LENGTH csum_requests n_csum_req)
  list(LENGTH gso_requests n_gso_req)
  list(LENGTH csum_results n_csum_res)
  list(LENGTH gso_results n_gso_res)
  list(LENGTH chains n_chains)
  string(CONCAT counts "tx bursts with checksum requests ${n_csum_req}, with TSO4 requests "
         "${n_gso_req}; rx bursts with checksum results ${n_csum_res}, with GSO results "
         "${n_gso_res}, with receive chains ${n_chains}")
  if(OFFLOADS STREQUAL "csum" OR OFFLOADS STREQUAL "tso")
    if(n_csum_req EQUAL 0 OR n_csum_res EQUAL 0)
      message(FATAL_ERROR "the trace has no checksum offload: ${counts}")
    endif()
  endif()
  if(OFFLOADS STREQUAL "tso")
    if(n_gso_req EQUAL 0 OR n_gso_res EQUAL 0 OR n_chains EQUAL 0)
      message(FATAL_ERROR "the trace has no TSO request, GSO result or receive chain: ${counts}")
    endif()
  endif()
  if(OFFLOADS STREQUAL "options" AND NOT (n_csum_req EQUAL 0 AND n_gso_req EQUAL 0))
    message(FATAL_ERROR "offload requests where none was negotiated: ${counts}")
  endif()
  message(STATUS "offloads: ${counts}")
endif()
execute_process(COMMAND ${VNET_REPLAY} --summary --no-progress ${OUT}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 120)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "vnet-replay of the fresh QEMU recording failed (${rc}):\n${out}\n${err}")
endif()
string(FIND "${out}" "PASS" at)
if(at LESS 0)
  message(FATAL_ERROR "vnet-replay did not say PASS:\n${out}")
endif()
message(STATUS "${out}")
