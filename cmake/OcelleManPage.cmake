# Writes the ocelle-cli(1) man page from the program's own help, so it never drifts from it:
# `ocelle-cli --help` gives the summary and the command list, `ocelle-cli COMMAND --help` each
# command's section. Run at build time:
#   cmake -DOCELLE_CLI=<path> -DOUTPUT=<dir/ocelle-cli.1.gz> -DVERSION=<x.y.z> -P OcelleManPage.cmake
# (the plain page is left beside it as dir/ocelle-cli.1).
foreach(var OCELLE_CLI OUTPUT VERSION)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "OcelleManPage.cmake: ${var} is not set")
  endif()
endforeach()

function(run_cli out_var)
  execute_process(COMMAND "${OCELLE_CLI}" ${ARGN} OUTPUT_VARIABLE out RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "`ocelle-cli ${ARGN}` failed (${rc}); the man page cannot be written")
  endif()
  set(${out_var} "${out}" PARENT_SCOPE)
endfunction()

# Help text as roff: backslashes escaped, and a line that starts with . or ' is not a request.
function(roff_text out_var text)
  string(REPLACE "\\" "\\e" text "${text}")
  string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" text "${text}")
  string(REGEX REPLACE "\n+$" "" text "${text}")
  set(${out_var} "${text}" PARENT_SCOPE)
endfunction()

run_cli(help --help)
string(REGEX MATCH "^ocelle-cli [^:]*: ([^\n]*)" _ "${help}")
set(summary "${CMAKE_MATCH_1}")
string(REGEX REPLACE "\\.$" "" summary "${summary}")
string(REGEX MATCH "Commands:\n(.*)\n\nOptions:" _ "${help}")
string(REPLACE "\n" ";" command_lines "${CMAKE_MATCH_1}")
if(NOT command_lines)
  message(FATAL_ERROR "OcelleManPage.cmake: no command list in `ocelle-cli --help`:\n${help}")
endif()

set(page ".TH OCELLE-CLI 1 \"\" \"ocelle-cli ${VERSION}\" \"User Commands\"\n")
string(APPEND page ".SH NAME\nocelle-cli \\- ${summary}\n")
string(APPEND page ".SH SYNOPSIS\n.B ocelle-cli\n.I COMMAND\n[\\fIOPTIONS\\fR]\n.br\n")
string(APPEND page ".B ocelle-cli\n.I COMMAND\n.B \\-\\-help\n.br\n.B ocelle-cli\n.B \\-\\-version\n")
string(APPEND page ".SH DESCRIPTION\nOcelle's inference engine from the command line: the same engine as the "
                   "\\fBocelle\\fR desktop app, without a window. Each command below is described by "
                   "\\fBocelle-cli\\fR \\fICOMMAND\\fR \\fB\\-\\-help\\fR, reproduced here.\n")
string(APPEND page ".SH COMMANDS\n")
foreach(line IN LISTS command_lines)
  string(REGEX MATCH "^  ([a-z0-9-]+) +(.*)$" _ "${line}")
  set(name "${CMAKE_MATCH_1}")
  set(line_summary "${CMAKE_MATCH_2}")
  if(name STREQUAL "")
    message(FATAL_ERROR "OcelleManPage.cmake: cannot read the command line '${line}'")
  endif()
  run_cli(usage ${name} --help)
  roff_text(line_summary "${line_summary}")
  roff_text(usage "${usage}")
  string(APPEND page ".SS ${name}\n${line_summary}.\n.PP\n.nf\n${usage}\n.fi\n")
endforeach()
string(APPEND page ".SH OPTIONS\n.TP\n.B \\-\\-help\nShow the list of commands.\n"
                   ".TP\n.B \\-\\-version\nPrint the version.\n")
string(APPEND page ".SH SEE ALSO\nThe desktop app, \\fBocelle\\fR (\\fBocelle \\-\\-help\\fR); "
                   "its README in /usr/share/doc/ocelle/.\n")

# Installed gzip-compressed, as Debian keeps man pages; MTIME 0 keeps the file the same from build
# to build.
get_filename_component(output_dir "${OUTPUT}" DIRECTORY)
get_filename_component(page_name "${OUTPUT}" NAME_WLE)
file(WRITE "${output_dir}/${page_name}" "${page}")
file(ARCHIVE_CREATE OUTPUT "${OUTPUT}" PATHS "${output_dir}/${page_name}" FORMAT raw COMPRESSION GZip MTIME 0)
