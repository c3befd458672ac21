# cmake -DVNET_QEMU=.. -DVNET_GUEST=.. -DVNET_REPLAY=.. -DOUT=trace.jsonl -DQEMU_TESTS=tests/qemu
#       -DCTRLQ=2 [-DCALLS=set_rx_mode;set_mac_filter;...]
#       "-DARGS=-M;q35;-t;modern;-g;ctrl=1;..." -P qemu_ctrl_record_replay.cmake
#
# The control queue in a recording made on QEMU (issue 15, item 7): the
# guest records its run with its control queue on (vnet-qemu --record,
# -g ctrl=1) and the trace replays on the host (tests/qemu/record_replay.cmake,
# included: header, replay PASS). Then the trace must hold the control
# queue: the attach accepted it ("accept_ctrl_vq":true), the commands the
# driver sends at attach (RX PROMISC off, RX ALLMULTI off) published on
# queue CTRLQ as a 2-byte header and a 1-byte writable ack, an ack fetch
# ("ctrl_ack") for every command and a completion of 1 byte. With CALLS
# the guest took control requests (--ctrl-check): each function in CALLS is
# a recorded call with a result, and a copy of the trace whose first
# set_rx_mode ack is turned from OK into ERR must diverge there, with the
# control command's result named.
include(${QEMU_TESTS}/record_replay.cmake)

file(STRINGS ${OUT} attach REGEX "\"fn\":\"attach\".*\"accept_ctrl_vq\":true")
file(STRINGS ${OUT} promisc_off
     REGEX "\"ev\":\"publish\",\"q\":${CTRLQ},\"avail\":[0-9]+,\"head\":[0-9]+,\"segs\":\\[{\"desc\":[0-9]+,\"len\":2,\"wr\":false,\"data\":\"0000\"},{\"desc\":[0-9]+,\"len\":1,\"wr\":false,\"data\":\"00\"},{\"desc\":[0-9]+,\"len\":1,\"wr\":true}\\]")
file(STRINGS ${OUT} commands
     REGEX "\"ev\":\"publish\",\"q\":${CTRLQ},.*\"segs\":\\[{\"desc\":[0-9]+,\"len\":2,\"wr\":false,.*\"len\":1,\"wr\":true}\\]")
file(STRINGS ${OUT} acks REGEX "\"fetch\",\"q\":${CTRLQ},\"part\":\"ctrl_ack\",\"idx\":[0-9]+,\"data\":\"0[01]\"")
file(STRINGS ${OUT} completions REGEX "\"complete\",\"q\":${CTRLQ},\"head\":[0-9]+,\"len\":1}")
list(LENGTH promisc_off n_promisc_off)
list(LENGTH commands n_commands)
list(LENGTH acks n_acks)
list(LENGTH completions n_completions)
if(NOT attach OR n_promisc_off EQUAL 0 OR n_commands LESS 2 OR NOT n_acks EQUAL n_commands
   OR NOT n_completions EQUAL n_commands)
  message(FATAL_ERROR "the trace does not carry the control queue (attach accept_ctrl_vq: "
                      "'${attach}', PROMISC off commands ${n_promisc_off}, commands on queue "
                      "${CTRLQ} ${n_commands}, ack fetches ${n_acks}, completions ${n_completions})")
endif()
message(STATUS "control queue ${CTRLQ}: ${n_commands} commands, ${n_acks} acks, "
               "${n_completions} completions")

if(DEFINED CALLS)
  foreach(fn IN LISTS CALLS)
    file(STRINGS ${OUT} calls REGEX "\"ev\":\"call\",\"fn\":\"${fn}\"")
    file(STRINGS ${OUT} rets REGEX "\"ev\":\"ret\",\"fn\":\"${fn}\",\"val\":0,\"state\":\"running\",\"result\":\"ok\"")
    list(LENGTH calls n_calls)
    list(LENGTH rets n_rets)
    if(n_calls EQUAL 0 OR NOT n_rets EQUAL n_calls)
      message(FATAL_ERROR "the trace lacks ${fn} calls answered ok (calls ${n_calls}, ok ${n_rets})")
    endif()
  endforeach()
  # Tamper: the first set_rx_mode call's ack, OK (00) -> ERR (01).
  file(READ ${OUT} text)
  string(FIND "${text}" "\"ev\":\"call\",\"fn\":\"set_rx_mode\"" call_at)
  if(call_at LESS 0)
    message(FATAL_ERROR "CALLS given but the trace has no set_rx_mode call to tamper with")
  endif()
  string(SUBSTRING "${text}" ${call_at} -1 tail)
  string(FIND "${tail}" "\"part\":\"ctrl_ack\"" ack_at)
  string(SUBSTRING "${tail}" ${ack_at} 64 ack_text)
  string(REGEX MATCH "^\"part\":\"ctrl_ack\",\"idx\":[0-9]+,\"data\":\"" prefix "${ack_text}")
  string(LENGTH "${prefix}" prefix_len)
  math(EXPR data_at "${call_at} + ${ack_at} + ${prefix_len}")
  string(SUBSTRING "${text}" ${data_at} 2 old)
  if(NOT old STREQUAL "00")
    message(FATAL_ERROR "the first set_rx_mode ack is '${old}', not 00")
  endif()
  string(SUBSTRING "${text}" 0 ${data_at} head)
  math(EXPR rest_at "${data_at} + 2")
  string(SUBSTRING "${text}" ${rest_at} -1 rest)
  file(WRITE ${OUT}.tampered.jsonl "${head}01${rest}")
  execute_process(COMMAND ${VNET_REPLAY} --no-progress ${OUT}.tampered.jsonl
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 120)
  if(NOT rc EQUAL 1 OR NOT out MATCHES "the control command's result differs: the trace's set_rx_mode returned ok, the driver's rejected")
    message(FATAL_ERROR "the tampered ack was not reported (${rc}):\n${out}\n${err}")
  endif()
  message(STATUS "tampered ack caught:\n${out}")
endif()

# With -DANNOUNCE=1 the runner asked QEMU to announce (--ctrl-check
# announce): a poll_device saw it ("announce":true) and the driver sent
# ANNOUNCE_ACK (class 3, command 0) on the control queue.
if(DEFINED ANNOUNCE)
  file(STRINGS ${OUT} seen REGEX "\"ev\":\"ret\",\"fn\":\"poll_device\".*\"announce\":true")
  file(STRINGS ${OUT} acked
       REGEX "\"ev\":\"publish\",\"q\":${CTRLQ},.*\"segs\":\\[{\"desc\":[0-9]+,\"len\":2,\"wr\":false,\"data\":\"0300\"}")
  if(NOT seen OR NOT acked)
    message(FATAL_ERROR "the trace lacks the announce (poll_device announce: '${seen}', "
                        "ANNOUNCE_ACK: '${acked}')")
  endif()
endif()
