# cmake -DVNET_QEMU=.. -DVNET_GUEST=.. -DTRACE2JSON=.. -DVNET_REPLAY=.. -DDIR=capture-dir
#       -DQEMU_TESTS=tests/qemu -DCTRLQ=2 "-DARGS=-M;pc;-t;modern;-g;ctrl=1;..."
#       -P ctrl_capture_check.cmake
#
# QEMU's view of the control queue (issue 15, item 7). QEMU 7.2's
# virtio-net handles a control command (virtio_net_handle_ctrl) with the
# generic virtqueue events: virtqueue_pop (in_num 1: the ack; out_num: the
# header and the data parts), virtqueue_fill of len 1 (the ack byte) and
# virtqueue_flush, then virtio_notify; its own virtio_net_* trace events
# fire only for ANNOUNCE and RSS. The capture of a guest with its control
# queue on converts, cross-checks against the guest's own recording and
# replays in both modes (tests/qemu/capture_convert.cmake, included); then
# the conversion must hold the control queue's device side: dev_pop on
# queue CTRLQ with one writable and two readable descriptors, dev_fill of
# 1 byte, dev_flush, as many as the guest's recording has commands; and
# the header's negotiated features must have CTRL_VQ (bit 17).
include(${QEMU_TESTS}/capture_convert.cmake)

set(conv ${DIR}/converted.jsonl)
file(STRINGS ${conv} pops REGEX "\"ev\":\"dev_pop\",\"q\":${CTRLQ},\"avail\":[0-9]+,\"in\":1,\"out\":[2-4]}")
file(STRINGS ${conv} fills REGEX "\"ev\":\"dev_fill\",\"q\":${CTRLQ},\"avail\":[0-9]+,\"len\":1}")
file(STRINGS ${conv} flushes REGEX "\"ev\":\"dev_flush\",\"q\":${CTRLQ},")
file(STRINGS ${DIR}/guest.jsonl commands REGEX "\"ev\":\"publish\",\"q\":${CTRLQ},.*\"len\":1,\"wr\":true}\\]")
list(LENGTH pops n_pops)
list(LENGTH fills n_fills)
list(LENGTH flushes n_flushes)
list(LENGTH commands n_commands)
if(n_commands EQUAL 0 OR NOT n_pops EQUAL n_commands OR NOT n_fills EQUAL n_commands
   OR n_flushes EQUAL 0)
  message(FATAL_ERROR "the conversion lacks the control queue's device side (guest commands "
                      "${n_commands}; dev_pop ${n_pops}, dev_fill ${n_fills}, dev_flush "
                      "${n_flushes} on queue ${CTRLQ})")
endif()
file(READ ${conv} header LIMIT 8192)
string(REGEX MATCH "\"negotiated\":\"0x([0-9a-f]+)\"" _ "${header}")
if(NOT CMAKE_MATCH_1)
  message(FATAL_ERROR "the converted header names no negotiated features")
endif()
# Bit 17 is in the fifth hex digit from the right: 0x20000.
string(LENGTH "${CMAKE_MATCH_1}" len)
math(EXPR at "${len} - 5")
string(SUBSTRING "${CMAKE_MATCH_1}" ${at} 1 digit)
if(NOT digit MATCHES "[2367abef]")
  message(FATAL_ERROR "the capture did not negotiate CTRL_VQ: 0x${CMAKE_MATCH_1}")
endif()
message(STATUS "control queue ${CTRLQ}: ${n_pops} commands popped, ${n_fills} acks filled, "
               "${n_flushes} flushes (guest: ${n_commands} commands)")
