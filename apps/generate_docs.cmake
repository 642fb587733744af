# cmake -DPIDX=path/to/pidx -DOUT=dir -P generate_docs.cmake
# Writes the man page and the completion scripts the binary generates; fails the build when
# the binary fails.
file(MAKE_DIRECTORY ${OUT})
foreach(job "__man;pidx.1" "completion;bash;pidx.bash" "completion;zsh;_pidx"
            "completion;fish;pidx.fish")
  list(POP_BACK job file)
  execute_process(COMMAND ${PIDX} ${job} --log-format json OUTPUT_FILE ${OUT}/${file}.tmp
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${PIDX} ${job} failed (${rc})")
  endif()
  file(RENAME ${OUT}/${file}.tmp ${OUT}/${file})
endforeach()
