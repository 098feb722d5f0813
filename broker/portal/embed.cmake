# apono_embed_portal(TARGET DIST OUT): compiles the files under DIST into TARGET, as the
# definition of apono::broker::portal::embedded_assets() in the generated OUT (see
# embed_files.cmake). The file list is a CONFIGURE_DEPENDS glob and each file a dependency, so a
# build after the front end changed (new hashed names, or the same names with new bytes) embeds
# it again; a DIST that does not exist yet embeds nothing until it does.
find_program(APONO_GZIP gzip)
if(NOT APONO_GZIP)
  message(WARNING "gzip not found: the web portal is embedded without precompressed copies")
endif()
function(apono_embed_portal target dist out)
  set(script ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/embed_files.cmake)
  file(GLOB_RECURSE files CONFIGURE_DEPENDS LIST_DIRECTORIES false ${dist}/*)
  list(LENGTH files count)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DDIST=${dist} -DOUT=${out} -DWORK=${out}.work
            -DGZIP=${APONO_GZIP} -P ${script}
    DEPENDS ${files} ${script}
    COMMENT "Embedding ${count} web portal file(s) from ${dist}"
    VERBATIM)
  target_sources(${target} PRIVATE ${out})
endfunction()
