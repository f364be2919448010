# The web console: web/dist is built from web/src once per checkout (scripts/build-web.sh,
# rerun only when a source or the lockfile changes; every build flavour shares it) and embedded
# into the gateway as a generated source. -DSALLYPORT_WEB=OFF (or no npm) embeds nothing.
set(SALLYPORT_WEB_FILES index.html app.js app.css)
set(web_dir ${PROJECT_SOURCE_DIR}/web)
set(web_generated ${CMAKE_CURRENT_BINARY_DIR}/web_assets.cpp)
find_program(SALLYPORT_NPM npm)
if(SALLYPORT_WEB AND SALLYPORT_NPM)
  file(GLOB_RECURSE web_sources CONFIGURE_DEPENDS ${web_dir}/src/*)
  set(web_outputs "")
  foreach(name IN LISTS SALLYPORT_WEB_FILES)
    list(APPEND web_outputs ${web_dir}/dist/${name})
  endforeach()
  add_custom_command(
    OUTPUT ${web_outputs}
    COMMAND ${PROJECT_SOURCE_DIR}/scripts/build-web.sh
    DEPENDS ${web_sources} ${web_dir}/build.mjs ${web_dir}/package.json ${web_dir}/package-lock.json
            ${web_dir}/tsconfig.json ${PROJECT_SOURCE_DIR}/scripts/build-web.sh
    COMMENT "Bundling the web console (web/dist)"
    VERBATIM)
  add_custom_command(
    OUTPUT ${web_generated}
    COMMAND ${CMAKE_COMMAND} -DDIST=${web_dir}/dist "-DFILES=${SALLYPORT_WEB_FILES}" -DOUTPUT=${web_generated}
            -P ${PROJECT_SOURCE_DIR}/cmake/EmbedWebAssets.cmake
    DEPENDS ${web_outputs} ${PROJECT_SOURCE_DIR}/cmake/EmbedWebAssets.cmake
    COMMENT "Embedding the web console"
    VERBATIM)
else()
  if(SALLYPORT_WEB)
    message(WARNING "npm not found: the gateway is built without the web console")
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} -DDIST=${CMAKE_CURRENT_BINARY_DIR}/no-web "-DFILES=" -DOUTPUT=${web_generated}
                  -P ${PROJECT_SOURCE_DIR}/cmake/EmbedWebAssets.cmake)
endif()
