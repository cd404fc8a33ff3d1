# nbgrader course folder for the nslab student track (written by notebooks/build.py).
#   cd notebooks/nbgrader && nbgrader generate_assignment nslab-es && nbgrader autograde nslab-es
c = get_config()  # noqa: F821 - nbgrader's config loader provides it
c.CourseDirectory.course_id = "nslab"
c.ClearSolutions.code_stub = {"python": ""}  # the student's cell is empty, as in notebooks/es/ejercicios
c.ExecutePreprocessor.timeout = 300  # building Figure 1 with LXD takes a while
c.Execute.timeout = 300
