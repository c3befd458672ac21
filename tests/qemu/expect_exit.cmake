# cmake -DEXPECT=<status> -DCOMMAND=<cmd;args> -P expect_exit.cmake
# Runs COMMAND and fails unless it exits with EXPECT.
execute_process(COMMAND ${COMMAND} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
                TIMEOUT 20)
if(NOT rc STREQUAL EXPECT)
  message(FATAL_ERROR "exit status ${rc}, expected ${EXPECT}\n${out}\n${err}")
endif()
