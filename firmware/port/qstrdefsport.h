// qstrs the port needs beyond those found automatically in its sources
// *FORMAT-OFF*
Q(/lib)
