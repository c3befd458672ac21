# cmake -DVNET_QEMU=.. -DVNET_GUEST=.. -DVNET_REPLAY=.. -DOUT=trace.jsonl
#       "-DARGS=-M;q35;-t;modern;..." -P record_replay.cmake
#
# Records a fresh run of the guest on QEMU (vnet-qemu --record: record=1,
# the trace streamed over COM2) and replays it on the host with
# vnet-replay, which must say PASS. The trace's header must say where it
# was recorded. With -DIRQ=msix|intx the guest ran interrupt-driven: the
# trace must arm that mode and hold handle_interrupt calls (from a vector,
# or from the line).
file(REMOVE ${OUT})
execute_process(COMMAND ${VNET_QEMU} --kernel ${VNET_GUEST} -q --record ${OUT} ${ARGS}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 180)
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
